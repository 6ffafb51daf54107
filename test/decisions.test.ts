import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  t = await startTestHub();
  receiver = await startReceiver();
  const created = await t.json('POST', '/destinations', { url: receiver.url('/all') });
  receiver.trust('/all', created.secret);
});
afterAll(async () => {
  await t.stop();
  await receiver.close();
});

const send = async (source: 'crm' | 'shop', record: Record<string, unknown>) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const profileOf = async (query: string) => (await t.json('GET', `/profiles?${query}`)).profiles;

describe('merges are explained and reversible', () => {
  let id: string;

  it('lists each member record with what linked it', async () => {
    await send('crm', { id: 'm1', email: 'jo@example.com', first_name: 'Jo' });
    await send('shop', { customer_id: 'm2', email_address: 'jo@example.com', full_name: 'Jo March' });
    [{ id }] = await profileOf('email=jo@example.com');
    const { members } = await t.json('GET', `/profiles/${id}/matches`);
    // No model is trained yet (too few records): the default model links them on the email and given name.
    expect(members).toHaveLength(2);
    expect(members[0]).toEqual({ source: 'crm', object: 'contact', recordId: 'm1', linkedBy: { rule: 'first record' } });
    expect(members[1]).toMatchObject({
      source: 'shop',
      object: 'customer',
      recordId: 'm2',
      linkedBy: {
        rule: 'probabilistic',
        with: { source: 'crm', object: 'contact', recordId: 'm1' },
        levels: { emails: 'exact', 'name.given': 'exact', 'name.family': 'null' },
      },
    });
  });

  it('splits records out into a new profile, recording who and why, and tells destinations', async () => {
    const response = await t.call('POST', `/profiles/${id}/split`, {
      records: [{ source: 'shop', recordId: 'm2' }],
      reason: 'two different Jos',
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as any;
    expect(body.profile.id).toBe(id);
    expect(body.profile.sources).toEqual([{ source: 'crm', object: 'contact', recordId: 'm1' }]);
    expect(body.split.sources).toEqual([{ source: 'shop', object: 'customer', recordId: 'm2' }]);
    expect(body.split.name).toEqual({ full: 'Jo March' });

    const { history } = await t.json('GET', `/profiles/${id}/history`);
    expect(history.at(-1)).toMatchObject({ kind: 'split', actor: 'env:admin', reason: 'two different Jos', others: [body.split.id] });

    await waitFor(async () => receiver.received.filter((r) => r.json.event === 'profile.split').length === 2);
    const splits = receiver.received.filter((r) => r.json.event === 'profile.split');
    expect(splits.every((r) => r.signatureValid)).toBe(true);
    expect(splits.map((r) => r.json.splitInto ?? r.json.splitFrom)).toEqual(expect.arrayContaining([[body.split.id], id]));
  });

  it('keeps the split records apart when they change later, and records the refused merge', async () => {
    await send('shop', { customer_id: 'm2', email_address: 'jo@example.com', full_name: 'Jo March', birthday: '1860-11-29' });
    const profiles = await profileOf('email=jo@example.com');
    expect(profiles).toHaveLength(2);
    const { history } = await t.json('GET', `/profiles/${id}/history`);
    expect(history.at(-1)).toMatchObject({ kind: 'refused', actor: 'aurum' });

    // Scored again by a links rebuild (as after each training), the pin holds, and the same
    // refusal is not recorded twice.
    await t.json('POST', '/rebuilds', { kinds: ['links'], reason: 'refusal once' });
    await waitFor(async () =>
      ((await t.json('GET', '/rebuilds')).rebuilds as any[]).some((r) => r.reason === 'refusal once' && r.status === 'done'),
    );
    expect(await profileOf('email=jo@example.com')).toHaveLength(2);
    expect((await t.json('GET', `/profiles/${id}/history`)).history).toEqual(history);
  });

  it('forces a merge: the oldest survives, the pin is lifted, destinations hear profile.merged', async () => {
    const [first, second] = await profileOf('email=jo@example.com');
    const response = await t.call('POST', '/profiles/merge', { ids: [second.id, first.id] }, { 'x-aurum-reason': 'same Jo after all' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as any;
    expect(body.profile.id).toBe(id);
    expect(body.profile.sources).toHaveLength(2);
    expect((await t.json('GET', `/profiles/${body.merged[0]}`)).id).toBe(id);
    const { history } = await t.json('GET', `/profiles/${id}/history`);
    expect(history.at(-1)).toMatchObject({ kind: 'manual', actor: 'env:admin', reason: 'same Jo after all' });
    await t.settle();
    await waitFor(async () => receiver.received.some((r) => r.json.event === 'profile.merged' && r.json.profile.id === id));

    // With the pin lifted, a later change links normally and refuses nothing.
    await send('shop', { customer_id: 'm2', email_address: 'jo@example.com', full_name: 'Jo March', birthday: '1860-11-30' });
    expect(await profileOf('email=jo@example.com')).toHaveLength(1);
    expect((await t.json('GET', `/profiles/${id}/history`)).history.at(-1).kind).toBe('manual');
  });

  it('answers clear errors for impossible decisions', async () => {
    const bad = async (route: string, body: unknown, status: number, code: string) => {
      const response = await t.call('POST', route, body);
      expect(response.status).toBe(status);
      expect(((await response.json()) as any).error.code).toBe(code);
    };
    await bad(`/profiles/${id}/split`, { records: [{ source: 'shop', recordId: 'nope' }] }, 400, 'invalid_request');
    await bad(
      `/profiles/${id}/split`,
      {
        records: [
          { source: 'crm', recordId: 'm1' },
          { source: 'shop', recordId: 'm2' },
        ],
      },
      400,
      'invalid_request',
    );
    await bad(
      '/profiles/00000000-0000-4000-8000-000000000000/split',
      { records: [{ source: 'crm', recordId: 'm1' }] },
      404,
      'profile_not_found',
    );
    await bad('/profiles/merge', { ids: [id] }, 400, 'invalid_request');
    await bad('/profiles/merge', { ids: [id, '00000000-0000-4000-8000-000000000000'] }, 404, 'profile_not_found');
  });
});
