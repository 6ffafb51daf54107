import type { JobWithMetadata, PgBoss } from 'pg-boss';
import type { Tx } from '../db/database.ts';
import { CATALOG, type PayloadOf, type QueueKey, txAdapter } from './catalog.ts';

/**
 * Queued jobs (created or waiting to retry) handled through pg-boss's own API, in the caller's
 * transaction: nothing here writes pg-boss's tables, whose layout is pg-boss's to change.
 */

const PAGE = 10_000;

/** The queued jobs of `queue` whose payload contains `data` (pg-boss `findJobs`, JSON containment). */
export async function findQueued<Q extends QueueKey>(
  boss: PgBoss,
  tx: Tx,
  queue: Q,
  data: Partial<PayloadOf<Q>>,
): Promise<JobWithMetadata<PayloadOf<Q>>[]> {
  const name = CATALOG[queue].name;
  const found: JobWithMetadata<PayloadOf<Q>>[] = [];
  for (let after: string | undefined; ; ) {
    const page = await boss.findJobs<PayloadOf<Q>>(name, {
      data: data as object,
      queued: true,
      limit: PAGE,
      ...(after ? { after } : {}),
      db: txAdapter(tx),
    });
    found.push(...page);
    if (page.length < PAGE) return found;
    after = page[page.length - 1]?.id;
  }
}

/** Deletes queued jobs by id (pg-boss `deleteJob`). */
export async function deleteQueued(boss: PgBoss, tx: Tx, queue: QueueKey, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await boss.deleteJob(CATALOG[queue].name, [...ids], { db: txAdapter(tx) });
}

/**
 * Moves the queued jobs of `queue` whose payload contains `data` to start after `seconds`, each at
 * a random moment of the `spreadSeconds` that follow, leaving those already due later. pg-boss's
 * `update` edits one job a statement, so a backlog is deleted and inserted again (payload, group and
 * singleton key kept) in three statements, whatever its size.
 */
export async function postponeQueued<Q extends QueueKey>(
  boss: PgBoss,
  tx: Tx,
  queue: Q,
  data: Partial<PayloadOf<Q>>,
  seconds: number,
  spreadSeconds: number,
): Promise<number> {
  const due = Date.now() + seconds * 1000;
  const early = (await findQueued(boss, tx, queue, data)).filter((j) => new Date(j.startAfter).getTime() < due);
  if (early.length === 0) return 0;
  await deleteQueued(
    boss,
    tx,
    queue,
    early.map((j) => j.id),
  );
  await boss.insert(
    CATALOG[queue].name,
    early.map((j) => ({
      data: j.data as object,
      startAfter: new Date(due + Math.random() * spreadSeconds * 1000),
      ...(j.groupId ? { group: { id: j.groupId, ...(j.groupTier ? { tier: j.groupTier } : {}) } } : {}),
      ...(j.singletonKey ? { singletonKey: j.singletonKey } : {}),
      ...(j.priority ? { priority: j.priority } : {}),
    })),
    { db: txAdapter(tx) },
  );
  return early.length;
}
