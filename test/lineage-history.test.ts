/**
 * `GET /profiles/:id/lineage?history=true`: every value each field has had, with the record and
 * mapping version that offered it, and when it won or lost survivorship.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t?.stop();
});

const post = async (source: 'crm' | 'shop', record: object) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};

describe('lineage history', () => {
  it('replays each value’s standing across the golden record’s versions', async () => {
    await post('crm', { id: 'lh-1', email: 'ann.lee@example.com', first_name: 'Ann', updated_at: '2024-01-01T00:00:00Z' });
    await post('shop', {
      customer_id: 'lh-s1',
      full_name: 'Annabel Lee',
      email_address: 'annabel@example.com',
      crm_id: 'lh-1',
      modified: '2024-02-01T00:00:00Z',
    });
    await post('crm', { id: 'lh-1', email: 'ann.lee@example.com', first_name: 'Anne', updated_at: '2024-03-01T00:00:00Z' });
    const [profile] = (await t.json<{ profiles: { id: string; version: number }[] }>('GET', '/profiles?email=ann.lee@example.com'))
      .profiles;
    const body = await t.json<{ fields: Record<string, any>; history: Record<string, any[]> }>(
      'GET',
      `/profiles/${profile?.id}/lineage?history=true`,
    );
    expect(body.fields['name']).toMatchObject({ value: { given: 'Anne' }, source: 'crm' });
    const name = body.history['name'] as {
      value: unknown;
      source: string;
      recordId: string;
      mapping: string;
      events: { outcome: string; version: number }[];
    }[];
    const of = (full: string) => name.find((h) => (h.value as { full: string }).full === full);
    // The CRM outranks the shop (its connector's priority): its first value wins until its record
    // changes, the shop's loses from the start, the CRM's new value wins.
    expect(of('Ann')).toMatchObject({ source: 'crm', recordId: 'lh-1', mapping: expect.stringContaining('crm-contact.yaml') });
    expect(of('Ann')?.events.map((e) => [e.version, e.outcome])).toEqual([
      [1, 'won'],
      [3, 'removed'],
    ]);
    expect(of('Annabel Lee')).toMatchObject({ source: 'shop', recordId: 'lh-s1', updatedAt: '2024-02-01T00:00:00.000Z' });
    expect(of('Annabel Lee')?.events.map((e) => [e.version, e.outcome])).toEqual([[2, 'lost']]);
    expect(of('Anne')?.events.map((e) => [e.version, e.outcome])).toEqual([[3, 'won']]);
    expect(body.history['emails']?.map((e) => [e.value, e.events.map((x: { outcome: string }) => x.outcome)])).toEqual(
      expect.arrayContaining([
        ['ann.lee@example.com', ['included']],
        ['annabel@example.com', ['included']],
      ]),
    );
    // Without history=true the answer is as before.
    expect(await t.json('GET', `/profiles/${profile?.id}/lineage`)).not.toHaveProperty('history');
  });
});
