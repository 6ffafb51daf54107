/**
 * Consent dated after its record was received is dated at the receipt, and the ledger keeps the time
 * the source stated: a grant dated 2099 no longer outranks a withdrawal made after it. The same
 * holds for a mapping's updatedAt, which otherwise makes a record its profile's newest for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

const crm = async (record: object) => {
  expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const idOf = async (email: string) =>
  (await t.json<{ profiles: { id: string }[] }>('GET', `/profiles?email=${email}`)).profiles[0]?.id as string;

interface Ledger {
  purposes: { purpose: string; status: string; at: string }[];
  ledger: { purpose: string; status: string; at: string; statedAt: string | null; receivedAt: string; recordId: string }[];
}

describe('future-dated consent', () => {
  it('caps a grant dated 2099 at its receipt, so a later withdrawal wins, and the ledger shows both times', async () => {
    const before = Date.now();
    await crm({ id: 'fut-1', email: 'fay@example.com', marketing_opt_in: true, updated_at: '2099-01-01T00:00:00Z' });
    const granted = Date.now();
    const id = await idOf('fay@example.com');
    const afterGrant = await t.json<Ledger>('GET', `/profiles/${id}/consent`);
    const [grant] = afterGrant.ledger;
    expect(grant).toMatchObject({ purpose: 'marketing', status: 'granted', statedAt: '2099-01-01T00:00:00.000Z' });
    const at = Date.parse(grant?.at ?? '');
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Math.min(granted, Date.parse(grant?.receivedAt ?? '')));

    // The person withdraws, stated at the time the vendor sends it: after the capped grant.
    await crm({ id: 'fut-1', email: 'fay@example.com', marketing_opt_in: false, updated_at: new Date().toISOString() });
    const consent = await t.json<Ledger>('GET', `/profiles/${id}/consent`);
    expect(consent.purposes).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'denied' }));
    expect(consent.ledger.map((e) => [e.status, e.statedAt])).toEqual([
      ['granted', '2099-01-01T00:00:00.000Z'],
      ['denied', null],
    ]);
    // The golden record, which destinations are sent by, agrees.
    const profile = await t.json<{ consent: { purpose: string; status: string }[] }>('GET', `/profiles/${id}`);
    expect(profile.consent).toEqual([expect.objectContaining({ purpose: 'marketing', status: 'denied' })]);

    const denied = await t.json<{ profiles: { profileId: string; decidedBy: { status: string; statedAt: string | null } }[] }>(
      'GET',
      '/consent?purpose=marketing&status=denied',
    );
    expect(denied.profiles.find((p) => p.profileId === id)?.decidedBy).toMatchObject({ status: 'denied', statedAt: null });
    const stillGranted = await t.json<{ profiles: { profileId: string }[] }>('GET', '/consent?purpose=marketing&status=granted');
    expect(stillGranted.profiles.map((p) => p.profileId)).not.toContain(id);

    const exported = await t.json<{ consent: { status: string; statedAt: string | null }[] }>('GET', `/profiles/${id}/export`);
    expect(exported.consent).toEqual([
      expect.objectContaining({ status: 'granted', statedAt: '2099-01-01T00:00:00.000Z' }),
      expect.objectContaining({ status: 'denied', statedAt: null }),
    ]);
  });

  it('shows a capped grant as the deciding entry, with its stated time, while nothing later withdraws it', async () => {
    await crm({ id: 'fut-2', email: 'gus@example.com', marketing_opt_in: true, updated_at: '2099-06-30T12:00:00Z' });
    const id = await idOf('gus@example.com');
    const granted = await t.json<{ profiles: { profileId: string; decidedBy: { at: string; statedAt: string | null } }[] }>(
      'GET',
      '/consent?purpose=marketing&status=granted',
    );
    const decided = granted.profiles.find((p) => p.profileId === id)?.decidedBy;
    expect(decided?.statedAt).toBe('2099-06-30T12:00:00.000Z');
    expect(Date.parse(decided?.at ?? '')).toBeLessThanOrEqual(Date.now());
  });

  it('keeps a record dated 2099 from winning its profile’s fields over a later record', async () => {
    // Two CRM records of one person (one priority, so the latest update wins): the first claims 2099.
    await crm({ id: 'fut-3a', email: 'hal@example.com', first_name: 'Hal', last_name: 'Future', updated_at: '2099-01-01T00:00:00Z' });
    await crm({ id: 'fut-3b', email: 'hal@example.com', first_name: 'Hal', last_name: 'Present', updated_at: new Date().toISOString() });
    const id = await idOf('hal@example.com');
    const profile = await t.json<{ name: { full: string }; sources: unknown[] }>('GET', `/profiles/${id}`);
    expect(profile.name.full).toBe('Hal Present');
    const lineage = await t.json<{ fields: Record<string, { candidates: { recordId: string; updatedAt: string }[] }> }>(
      'GET',
      `/profiles/${id}/lineage`,
    );
    const future = lineage.fields['name']?.candidates.find((c) => c.recordId === 'fut-3a');
    expect(Date.parse(future?.updatedAt ?? '')).toBeLessThanOrEqual(Date.now());
  });
});
