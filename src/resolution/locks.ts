import { sql } from 'drizzle-orm';
import { type Raw, rowsOf, type Tx } from '../db/database.ts';
import type { profiles } from '../db/schema.ts';
import { lockKeys, shareResolution, uuidArray } from '../db/sql.ts';

/**
 * What linking transactions serialise on, so that they run side by side in every process of a hub.
 *
 * Two records can only link if one transaction sees the other's: they share a key that links
 * outright, or a blocking key that makes them candidates. A transaction therefore locks every such
 * key of its records (and each record's identity, so two versions of one record take turns) before
 * it reads anything, and one that shares none of them with another never waits for it. Then, before
 * it changes a profile (joins a record to it, merges it), it locks that profile: two transactions
 * reaching one person through different keys take turns there, and a merge never races another.
 *
 * The locks are transaction-scoped advisory locks on hashed keys, taken in one statement in
 * ascending order, so key locks never wait on each other in a cycle. Profile locks come after, also
 * sorted; a profile found merged meanwhile into one not yet locked is locked in a second round,
 * which can meet another transaction's in a cycle. PostgreSQL then aborts one of the two
 * (`40P01`), and `withRetry` runs it again. What changes profiles wholesale (a decision through the
 * API, an erasure, a rebuild of the keys) takes the resolution lock exclusively instead.
 */
export async function lockKeysForLinking(tx: Tx, keys: Iterable<string>): Promise<void> {
  await tx.execute(shareResolution());
  await tx.execute(lockKeys([...keys].map((key) => `link:${key}`)));
}

/**
 * Locks the profiles a linking transaction changes, following merges to their survivors and
 * locking those too, until every survivor it will touch is locked. Returns, as `lockProfiles`
 * does, each id's active survivor and each profile's age (`seq`).
 */
export async function lockProfilesForLinking(tx: Tx, ids: ReadonlySet<string>): Promise<Awaited<ReturnType<typeof lockProfiles>>> {
  const locked = new Set<string>();
  let wanted = new Set(ids);
  for (;;) {
    const fresh = [...wanted].filter((id) => !locked.has(id));
    if (fresh.length > 0) {
      await tx.execute(lockKeys(fresh.map((id) => `profile:${id}`)));
      for (const id of fresh) locked.add(id);
    }
    // Read after the locks: a merge committed by the transaction that held one is seen.
    const found = await lockProfiles(tx, locked, { forUpdate: false });
    wanted = new Set(found.active.values());
    if ([...wanted].every((id) => locked.has(id))) return found;
  }
}

/**
 * Locks the candidate profiles' rows, following merges to their survivors, and locks those too.
 * The golden stage and decisions lock rows this way; linking reads them without locking (`forUpdate:
 * false`): it holds their advisory locks (`lockProfilesForLinking`), and decisions exclude it by the
 * resolution lock. Waiting for a golden record being rebuilt stalled every other arrival (a third
 * of the linking time, when linking was serialised). A golden record built from members that
 * linking then moves is rebuilt by the job linking queues.
 */
export async function lockProfiles(tx: Tx, ids: Set<string>, { forUpdate = true } = {}) {
  const active = new Map<string, string>();
  const seqOf = new Map<string, number>();
  let pending = [...ids];
  const mergedInto = new Map<string, string>();
  while (pending.length > 0) {
    const rows = rowsOf<Raw<Pick<typeof profiles.$inferSelect, 'id' | 'seq' | 'mergedInto'>>>(
      await tx.execute(
        forUpdate
          ? sql`select id, seq, merged_into as "mergedInto" from profiles where id = any(${uuidArray(pending)}) order by id for update`
          : sql`select id, seq, merged_into as "mergedInto" from profiles where id = any(${uuidArray(pending)})`,
      ),
    );
    pending = [];
    for (const row of rows) {
      seqOf.set(row.id, Number(row.seq));
      if (row.mergedInto) {
        mergedInto.set(row.id, row.mergedInto);
        if (!seqOf.has(row.mergedInto)) pending.push(row.mergedInto);
      }
    }
  }
  for (const id of seqOf.keys()) {
    let target = id;
    for (let hops = 0; mergedInto.has(target) && hops < 64; hops++) target = mergedInto.get(target) as string;
    active.set(id, target);
  }
  return { active, seqOf };
}
