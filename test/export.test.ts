/**
 * Data-subject export and record lookup: everything held on a person in one document, through the
 * API, audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ROLE_KEYS, startTestHub, type TestHub } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  t = await startTestHub();
  receiver = await startReceiver();
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

const as = (role: keyof typeof ROLE_KEYS, path: string, headers: Record<string, string> = {}) =>
  t.as(role, 'GET', path, undefined, headers);

describe('GET /profiles/:id/export', () => {
  it('returns the golden record, each member record raw and mapped, consent, deliveries and audit, and audits itself', async () => {
    const created = await t.json<{ id: string; secret: string }>('POST', '/destinations', { url: receiver.url('/all') });
    receiver.trust('/all', created.secret);
    const contact = {
      id: 'x-1',
      email: 'grace.export@example.com',
      first_name: 'Grace',
      last_name: 'Hopper',
      marketing_opt_in: true,
      updated_at: '2024-05-01T10:00:00Z',
    };
    expect((await t.postWebhook('crm', JSON.stringify(contact))).status).toBe(202);
    const customer = { customer_id: 's-1', full_name: 'Grace Hopper', email_address: 'grace.export@example.com', crm_id: 'x-1' };
    expect((await t.postWebhook('shop', JSON.stringify(customer))).status).toBe(202);
    await t.settle();
    const [profile] = (await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?email=grace.export@example.com')).profiles;
    const id = (profile as { id: string }).id;

    const response = await as('compliance', `/profiles/${id}/export`, { 'x-aurum-reason': 'DSAR 2024-117' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toContain(`aurum-export-${id}.json`);
    const document = (await response.json()) as Record<string, any>;
    expect(document).toMatchObject({ id, profile: { id, name: { given: 'Grace', family: 'Hopper' } } });
    expect(document['records']).toHaveLength(2);
    expect(document['records']).toContainEqual(
      expect.objectContaining({
        source: 'crm',
        recordId: 'x-1',
        raw: expect.objectContaining({ payload: contact }),
        fragment: expect.objectContaining({ emails: ['grace.export@example.com'] }),
        mapping: expect.stringContaining('crm-contact.yaml'),
      }),
    );
    expect(document['records']).toContainEqual(
      expect.objectContaining({ source: 'shop', raw: expect.objectContaining({ payload: customer }) }),
    );
    expect(document['consent']).toEqual([
      expect.objectContaining({ purpose: 'marketing', status: 'granted', source: 'crm', recordId: 'x-1' }),
    ]);
    expect(document['deliveries'].length).toBeGreaterThan(0);
    expect(document['deliveries'][0]).toMatchObject({
      destination: { id: created.id, url: receiver.url('/all') },
      event: expect.stringMatching(/^profile\./),
      body: expect.objectContaining({ profile: expect.objectContaining({ id: expect.any(String) }) }),
    });
    // The export is in its own audit trail, with the reason given, beside the reads before it.
    expect(document['audit'][0]).toMatchObject({
      action: 'profile.exported',
      actor: 'env:compliance',
      reason: 'DSAR 2024-117',
      profileId: id,
    });
    expect(document['audit'].map((e: { action: string }) => e.action)).toContain('profile.read');

    expect((await as('reader', `/profiles/${id}/export`)).status).toBe(403);
    expect((await as('ops', `/profiles/${id}/export`)).status).toBe(403);
    expect((await as('admin', '/profiles/00000000-0000-4000-8000-000000000000/export')).status).toBe(404);
  });
});

describe('GET /records/:source/:recordId', () => {
  it('shows the raw payload, the mapped fragment and the profile, and audits the read', async () => {
    const response = await as('compliance', '/records/shop/s-1');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { records: Record<string, any>[] };
    expect(body).toMatchObject({ source: 'shop', recordId: 's-1' });
    expect(body.records).toEqual([
      expect.objectContaining({
        object: 'customer',
        profileId: expect.any(String),
        raw: expect.objectContaining({ payload: expect.objectContaining({ full_name: 'Grace Hopper' }) }),
        fragment: expect.objectContaining({ name: { full: 'Grace Hopper' } }),
      }),
    ]);
    const audit = (await (await as('compliance', '/audit?action=record.read')).json()) as { entries: Record<string, unknown>[] };
    expect(audit.entries[0]).toMatchObject({ profileId: body.records[0]?.['profileId'], details: { source: 'shop', object: 'customer' } });

    const missing = await as('compliance', '/records/shop/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'record_not_found' } });
  });
});
