/**
 * Queued jobs moved and withdrawn through pg-boss's API (src/queue/queued.ts): a destination's
 * backlog held back while its circuit is open, and the jobs of withdrawn deliveries deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue } from '../src/queue/catalog.ts';
import { deleteQueued, findQueued, postponeQueued } from '../src/queue/queued.ts';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  // No workers: the jobs stay queued for the test to look at.
  t = await startTestHub({ workers: false });
});
afterAll(async () => t.stop());

const destinationA = '00000000-0000-4000-8000-00000000000a';
const destinationB = '00000000-0000-4000-8000-00000000000b';

describe('queued jobs', () => {
  it('postpone one destination’s backlog, keeping payload and group, and leave the others and the later ones alone', async () => {
    const { boss } = t.hub;
    const db = t.testDb.database.db;
    await db.transaction(async (tx) => {
      await enqueue(boss, tx, 'deliver', [
        { data: { deliveryId: 'd-1', destinationId: destinationA }, group: { id: destinationA } },
        { data: { deliveryId: 'd-2', destinationId: destinationA }, group: { id: destinationA } },
        { data: { deliveryId: 'd-3', destinationId: destinationB }, group: { id: destinationB } },
        {
          data: { deliveryId: 'd-4', destinationId: destinationA },
          group: { id: destinationA },
          startAfter: new Date(Date.now() + 3600_000),
        },
      ]);
    });
    const before = Date.now();
    const moved = await db.transaction((tx) => postponeQueued(boss, tx, 'deliver', { destinationId: destinationA }, 60, 10));
    expect(moved).toBe(2);

    const [jobsA, jobsB] = await db.transaction(async (tx) => [
      await findQueued(boss, tx, 'deliver', { destinationId: destinationA }),
      await findQueued(boss, tx, 'deliver', { destinationId: destinationB }),
    ]);
    const byDelivery = new Map(jobsA.map((j) => [j.data.deliveryId, j]));
    expect([...byDelivery.keys()].sort()).toEqual(['d-1', 'd-2', 'd-4']);
    for (const id of ['d-1', 'd-2']) {
      const job = byDelivery.get(id);
      expect(job?.groupId).toBe(destinationA);
      const at = new Date(job?.startAfter ?? 0).getTime();
      expect(at).toBeGreaterThanOrEqual(before + 60_000 - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 70_000 + 1000);
    }
    expect(new Date(byDelivery.get('d-4')?.startAfter ?? 0).getTime()).toBeGreaterThan(Date.now() + 3000_000);
    expect(jobsB.map((j) => j.data.deliveryId)).toEqual(['d-3']);
    expect(new Date(jobsB[0]?.startAfter ?? 0).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('delete only the jobs named, and nothing when none is', async () => {
    const { boss } = t.hub;
    const db = t.testDb.database.db;
    await db.transaction(async (tx) => {
      const [d1] = await findQueued(boss, tx, 'deliver', { deliveryId: 'd-1' });
      await deleteQueued(boss, tx, 'deliver', [d1?.id as string]);
      await deleteQueued(boss, tx, 'deliver', []);
    });
    const left = await db.transaction((tx) => findQueued(boss, tx, 'deliver', {}));
    expect(left.map((j) => j.data.deliveryId).sort()).toEqual(['d-2', 'd-3', 'd-4']);
  });

  it('undo a postponement with the transaction that made it', async () => {
    const { boss } = t.hub;
    const db = t.testDb.database.db;
    await expect(
      db.transaction(async (tx) => {
        await postponeQueued(boss, tx, 'deliver', { destinationId: destinationB }, 60, 0);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const [d3] = await db.transaction((tx) => findQueued(boss, tx, 'deliver', { destinationId: destinationB }));
    expect(new Date(d3?.startAfter ?? 0).getTime()).toBeLessThanOrEqual(Date.now());
  });
});
