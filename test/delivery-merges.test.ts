/**
 * Delivery across a merge: once a profile is merged away, its id hears nothing more (its snapshots
 * not yet sent are superseded), only the survivor's `profile.merged` that names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let down = true;
beforeAll(async () => {
  // Retries and a circuit that outlast the outage the test makes, so nothing dies or waits a cooldown.
  t = await startTestHub({ env: { AURUM_DELIVERY_RETRY_LIMIT: '20', AURUM_DELIVERY_CIRCUIT_THRESHOLD: '100' } });
  receiver = await startReceiver(() => (down ? 503 : 204));
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

    down = false;
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
});
