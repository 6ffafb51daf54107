import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../../test/helpers/hub.ts';
import type { Tx } from '../db/database.ts';
import { checkJobData, enqueue, ingestJobs, QUEUES } from './catalog.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t.stop());

async function jobOf(name: string, id: string | null) {
  if (!id) throw new Error('the job was not created');
  const [job] = await t.hub.boss.findJobs(name, { id });
  if (!job) throw new Error('the job is gone');
  return job;
}

describe('the queue catalog', () => {
  it('refuses a payload of the wrong shape at compile time, by queue', () => {
    // Never run: tsc checks these lines (npm test type-checks first), and fails if one compiles.
    const wrong = (boss: PgBoss, tx: Tx) => [
      // @ts-expect-error profileIds is a list of ids
      enqueue(boss, tx, 'golden', { profileIds: 'p1', merges: [] }),
      // @ts-expect-error a golden job carries its merges
      enqueue(boss, tx, 'golden', { profileIds: ['p1'] }),
      // @ts-expect-error a fan-out change names a known event
      enqueue(boss, tx, 'fanout', { changes: [{ profileId: 'p1', event: 'profile.renamed' }] }),
      // @ts-expect-error an ingest job is not a golden job
      enqueue(boss, tx, 'golden', ingestJobs([1], 10)),
      // @ts-expect-error no such queue
      enqueue(boss, tx, 'aurum-golden', { profileIds: [], merges: [] }),
    ];
    expect(wrong).toBeTypeOf('function');
  });

  it('takes every change the golden stage makes, persons’ and accounts’ in one fan-out job', () => {
    const member = { profileId: 'p2', role: 'CTO', source: 'erp', validFrom: '2026-12-01T00:00:00.000Z' };
    const changes = [
      { profileId: 'p1', event: 'profile.updated' },
      { profileId: 'p1', event: 'profile.merged', merged: ['p3'] },
      { profileId: 'p1', event: 'profile.split', splitInto: ['p4'] },
      { profileId: 'p1', event: 'profile.erased' },
      { profileId: 'a1', event: 'account.updated' },
      { profileId: 'a1', event: 'account.merged', merged: ['a2'] },
      { profileId: 'a1', event: 'account.split', splitFrom: 'a3' },
      { profileId: 'a1', event: 'account.member_added', member },
      { profileId: 'a1', event: 'account.member_removed', member },
    ];
    expect(checkJobData('fanout', { changes })).toMatchObject({ ok: true });
    expect(checkJobData('fanout', { changes: [{ profileId: 'a1', event: 'account.member_added' }] })).toMatchObject({ ok: false });
    expect(checkJobData('fanout', { changes: [{ profileId: 'a1', event: 'account.renamed' }] })).toMatchObject({ ok: false });
  });

  it('enqueues a typed payload in the caller’s transaction, and its worker runs it', async () => {
    const id = await t.hub.ctx.database.db.transaction((tx) => enqueue(t.hub.boss, tx, 'golden', { profileIds: [], merges: [] }));
    await t.settle();
    expect((await jobOf(QUEUES.golden, id)).state).toBe('completed');
  });

  it('fails for good a job whose stored data does not match its schema, naming the paths and none of the data', async () => {
    // The extra `email` is let through (a newer process may queue fields this one does not know); the rest is not.
    const bad = { profileIds: 'ann@example.com', merges: [{ survivorId: 'ann@example.com' }], email: 'ann@example.com' };
    const id = await t.hub.boss.send(QUEUES.golden, bad);
    await t.settle();
    const job = await jobOf(QUEUES.golden, id);
    // At once, though the queue allows ten retries: retrying cannot change the data.
    expect(job.state).toBe('failed');
    expect(job.retryCount).toBe(0);
    const output = job.output as { name: string; code: string; message: string };
    expect(output.name).toBe('JobDataError');
    expect(output.code).toBe('invalid_job_data');
    expect(output.message).toContain('aurum-golden job data does not match its schema');
    expect(output.message).toContain('/profileIds must be array');
    expect(output.message).toContain("/merges/0 must have required property 'retiredIds'");
    expect(JSON.stringify(job.output)).not.toContain('ann@');
  });

  it('runs the rest of a batch beside a job whose data does not match', async () => {
    await t.hub.boss.insert(QUEUES.fanout, [
      { data: { changes: [{ profileId: 'p-bad', event: 'profile.renamed' }] } },
      { data: { changes: [] } },
    ]);
    await t.settle();
    const jobs = await t.hub.boss.findJobs(QUEUES.fanout);
    const states = jobs.map((j) => ({ state: j.state, bad: JSON.stringify(j.data).includes('p-bad') }));
    expect(states).toContainEqual({ state: 'failed', bad: true });
    expect(states).toContainEqual({ state: 'completed', bad: false });
  });
});
