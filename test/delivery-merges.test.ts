/**
 * Delivery across a merge: once a profile is merged away, its id hears nothing more (its snapshots
 * not yet sent are superseded), only the survivor's `profile.merged` that names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
/** Paths that answer 503 for now. */
const down = new Set<string>();
beforeAll(async () => {
  // Retries and a circuit that outlast the outage the test makes, so nothing dies or waits a cooldown.
  t = await startTestHub({ env: { AURUM_DELIVERY_RETRY_LIMIT: '20', AURUM_DELIVERY_CIRCUIT_THRESHOLD: '100' } });
  receiver = await startReceiver((path) => (down.has(path) ? 503 : 204));
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

const deliveries = async (id: string) =>
  (await t.json<{ deliveries: Record<string, any>[] }>('GET', `/destinations/${id}/deliveries`)).deliveries;
const idOf = async (email: string) =>
  (await t.json<{ profiles: { id: string }[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles[0]?.id as string;

describe('a merge', () => {
  it('supersedes the retired id’s version still retrying: the destination hears nothing of that id after its merge', async () => {
    down.add('/merges');
    const destination = await t.json<{ id: string; secret: string }>('POST', '/destinations', { url: receiver.url('/merges') });
    receiver.trust('/merges', destination.secret);
    for (const record of [
      { id: 'mg-1', email: 'mira@example.com', first_name: 'Mira' },
      { id: 'mg-2', email: 'mira.work@example.com', first_name: 'Mira' },
    ]) {
      expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    }
    // The destination is down: both versions are retrying when the two profiles are merged.
    await waitFor(async () => (await deliveries(destination.id)).filter((d) => d['status'] === 'retrying').length === 2);
    const ids = [await idOf('mira@example.com'), await idOf('mira.work@example.com')];
    const merged = await t.json<{ profile: { id: string } }>('POST', '/profiles/merge', { ids, reason: 'same person' });
    const survivor = merged.profile.id;
    const retired = ids.find((id) => id !== survivor) as string;
    await waitFor(async () => (await deliveries(destination.id)).some((d) => d['event'] === 'profile.merged'));

    down.delete('/merges');
    await waitFor(async () => (await deliveries(destination.id)).every((d) => !['pending', 'retrying', 'sending'].includes(d['status'])));
    await t.settle();
    const mergedAt = receiver.received.findIndex((r) => r.json.event === 'profile.merged');
    expect(receiver.received[mergedAt]?.json).toMatchObject({ profile: { id: survivor }, merged: [retired] });
    const afterMerge = receiver.received.slice(mergedAt + 1);
    expect(afterMerge.filter((r) => r.json.profile?.id === retired || r.json.id === retired)).toEqual([]);
    // Its version was never sent: superseded by the merge, as the survivor's was.
    const log = await deliveries(destination.id);
    expect(log.filter((d) => d['profileId'] === retired).map((d) => [d['event'], d['status']])).toEqual([
      ['profile.updated', 'superseded'],
    ]);
    expect(receiver.received.filter((r) => r.json.profile?.id === retired)).toEqual([]);
  });

  it('keeps a retired id’s suppression not yet sent: the destination still learns to delete what it holds of that id', async () => {
    down.add('/marketing');
    const destination = await t.json<{ id: string; secret: string }>('POST', '/destinations', {
      url: receiver.url('/marketing'),
      purposes: ['marketing'],
    });
    receiver.trust('/marketing', destination.secret);
    const at = '2024-01-01T00:00:00Z';
    const crm = async (record: Record<string, unknown>) => expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    await crm({ id: 'ms-1', email: 'sana@example.com', marketing_opt_in: true, updated_at: at });
    await crm({ id: 'ms-2', email: 'sana.work@example.com', marketing_opt_in: true, updated_at: at });
    await waitFor(async () => (await deliveries(destination.id)).filter((d) => d['status'] === 'retrying').length === 2);
    // One of them withdraws: its version is superseded by its suppression, which waits for the destination.
    await crm({ id: 'ms-2', email: 'sana.work@example.com', marketing_opt_in: false, updated_at: '2024-02-01T00:00:00Z' });
    await waitFor(async () => (await deliveries(destination.id)).some((d) => d['event'] === 'profile.suppressed'));
    const ids = [await idOf('sana@example.com'), await idOf('sana.work@example.com')];
    // The merged profile's latest statement is the withdrawal: it no longer qualifies either.
    await t.json('POST', '/profiles/merge', { ids, reason: 'same person' });
    await waitFor(async () => (await deliveries(destination.id)).filter((d) => d['event'] === 'profile.suppressed').length === 2);

    down.delete('/marketing');
    await waitFor(async () => (await deliveries(destination.id)).every((d) => !['pending', 'retrying', 'sending'].includes(d['status'])));
    await t.settle();
    const heard = receiver.received.filter((r) => r.path === '/marketing').map((r) => r.json);
    // Both ids were queued for the destination: it hears that both are to be deleted, and nothing else.
    expect(heard.map((j) => [j.event, j.id]).sort()).toEqual(ids.sort().map((id) => ['profile.suppressed', id]));
  });
});
