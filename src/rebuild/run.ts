import { countLiveProfiles, profilesAfter } from '../golden/read.ts';
import { refreshJobs } from '../golden/refresh.ts';
import { safeError } from '../log.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { countLiveRecords, rederiveKeys } from '../resolution/link.ts';
import { definitionOf, REBUILD_KINDS, type RebuildKind, STALE_REASON } from './definitions.ts';
import {
  advanceRebuild,
  finishRebuild,
  getRebuild,
  lastDefinition,
  type Rebuild,
  type RebuildJob,
  recordCurrent,
  requestRebuild,
  startRebuild,
} from './store.ts';

/** Records (keys) or profiles (golden) a transaction of a rebuild takes. */
const BATCH: Record<RebuildKind, number> = { keys: 1_000, golden: 200 };

/**
 * At start-up: queues a rebuild of each kind of derived data whose definition in the workspace is
 * not the one it was last derived from. A new hub (nothing stored) records the definition instead.
 */
export async function rebuildStale(ctx: PipelineContext): Promise<Rebuild[]> {
  const queued: Rebuild[] = [];
  for (const kind of REBUILD_KINDS) {
    const definition = definitionOf(kind, ctx.workspace());
    const last = await lastDefinition(ctx.database.db, kind);
    if (last === definition) continue;
    const empty = (kind === 'keys' ? await countLiveRecords(ctx.database.db) : await countLiveProfiles(ctx.database.db)) === 0;
    await ctx.database.db.transaction(async (tx) => {
      if (empty && last === undefined) await recordCurrent(tx, kind, definition);
      else
        queued.push(
          await requestRebuild(
            ctx,
            tx,
            kind,
            last === undefined ? 'derived before rebuilds were recorded' : STALE_REASON[kind],
            definition,
          ),
        );
    });
  }
  for (const r of queued) ctx.log.info({ rebuild: r.id, kind: r.kind, reason: r.reason }, 'derived data is stale: rebuilding');
  return queued;
}

/** Asks for a rebuild of each kind now, whatever the definitions (`POST /rebuilds`, `aurum rebuild`). */
export async function requestRebuilds(ctx: PipelineContext, kinds: readonly RebuildKind[], reason: string): Promise<Rebuild[]> {
  return ctx.database.db.transaction(async (tx) => {
    const out: Rebuild[] = [];
    for (const kind of kinds) out.push(await requestRebuild(ctx, tx, kind, reason, definitionOf(kind, ctx.workspace())));
    return out;
  });
}

/**
 * The rebuild job: walks the kind's table from the rebuild's cursor, a batch a transaction, and
 * marks it done. A job retried after its process died resumes at the cursor. Golden records are
 * rebuilt through the golden stage, which tells destinations only of real changes.
 */
export async function runRebuild(ctx: PipelineContext, job: RebuildJob): Promise<void> {
  const rebuild = await getRebuild(ctx.database.db, job.rebuildId);
  if (!rebuild || rebuild.status === 'done' || rebuild.status === 'failed') return;
  const db = ctx.database.db;
  const total = rebuild.kind === 'keys' ? await countLiveRecords(db) : await countLiveProfiles(db);
  await db.transaction((tx) => startRebuild(tx, rebuild.id, total));
  let cursor = rebuild.cursor;
  try {
    for (;;) {
      if (rebuild.kind === 'keys') {
        // The definition in force is the workspace's, whatever the one the rebuild was asked with.
        const identity = ctx.workspace().identity;
        const done = await db.transaction(async (tx) => {
          const step = await rederiveKeys(tx, identity, cursor, BATCH.keys);
          if (step.lastId !== null) await advanceRebuild(tx, rebuild.id, step.lastId, step.count);
          return step;
        });
        if (done.lastId === null) break;
        cursor = done.lastId;
      } else {
        const page = await profilesAfter(db, cursor, BATCH.golden);
        if (page.length === 0) break;
        await refreshJobs(ctx, [{ profileIds: page.map((p) => p.id), merges: [] }]);
        cursor = (page[page.length - 1] as { seq: number }).seq;
        await db.transaction((tx) => advanceRebuild(tx, rebuild.id, cursor, page.length));
      }
    }
  } catch (error) {
    // pg-boss retries the job, which resumes at the cursor; the rebuild stays running meanwhile.
    ctx.log.warn({ rebuild: rebuild.id, error: safeError(error) }, 'rebuild interrupted; retrying from its cursor');
    throw error;
  }
  await finishRebuild(db, rebuild.id);
  ctx.log.info({ rebuild: rebuild.id, kind: rebuild.kind }, 'rebuild done');
  // The workspace may have changed again while it ran.
  await rebuildStale(ctx);
}
