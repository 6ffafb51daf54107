import { withRetry } from '../db/sql.ts';
import { refreshJobs } from '../golden/refresh.ts';
import { safeError } from '../log/log.ts';
import { ingest } from '../pipeline/ingest-job.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import {
  countLivePersonRecords,
  countLiveRecords,
  lastPersonRecordId,
  linkFragments,
  rederiveKeys,
  storedFragmentsAfter,
} from '../resolution/link.ts';
import { countRecordsMappedBefore, type MappingVersion, recordsMappedBefore } from '../resolution/mapping-versions.ts';
import { countLiveProfiles, profilesAfter } from '../resolution/read.ts';
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

/**
 * How each kind is rebuilt: what it walks (`total`), and one batch of it after the cursor (`step`,
 * which advances the rebuild and returns the new cursor, or null when nothing is left). `stored`
 * counts what the kind derives from; none on a hub that never had a definition recorded is a new hub.
 */
interface KindWork {
  stored(ctx: PipelineContext): Promise<number>;
  total(ctx: PipelineContext, until?: number): Promise<number>;
  step(ctx: PipelineContext, rebuildId: string, cursor: number, until?: number): Promise<number | null>;
  /** The last id the walk needs to reach, as it starts (none: to the end, however far it grows). */
  until?(ctx: PipelineContext): Promise<number | undefined>;
}

const mappingsInForce = (ctx: PipelineContext): MappingVersion[] =>
  ctx.workspace().mappings.map((m) => ({ source: m.source, object: m.object, hash: m.hash }));

const WORK: Record<RebuildKind, KindWork> = {
  // 1,000 records a transaction, under the resolution lock: linking waits for one batch at most.
  keys: {
    stored: (ctx) => countLiveRecords(ctx.database.db),
    total: (ctx) => countLiveRecords(ctx.database.db),
    async step(ctx, rebuildId, cursor) {
      // The definition in force is the workspace's, whatever the one the rebuild was asked with.
      const identity = ctx.workspace().identity;
      return ctx.database.db.transaction(async (tx) => {
        const step = await rederiveKeys(tx, identity, cursor, 1_000);
        if (step.lastId !== null) await advanceRebuild(tx, rebuildId, step.lastId, step.count);
        return step.lastId;
      });
    },
  },
  // 200 profiles a golden transaction, which tells destinations only of real changes.
  golden: {
    stored: (ctx) => countLiveProfiles(ctx.database.db),
    total: (ctx) => countLiveProfiles(ctx.database.db),
    async step(ctx, rebuildId, cursor) {
      const page = await profilesAfter(ctx.database.db, cursor, 200);
      const last = page[page.length - 1];
      if (!last) return null;
      await refreshJobs(ctx, [{ profileIds: page.map((p) => p.id), merges: [] }]);
      await ctx.database.db.transaction((tx) => advanceRebuild(tx, rebuildId, last.seq, page.length));
      return last.seq;
    },
  },
  // 500 records a batch, mapped again from their raw records and linked by the ingest stage: one
  // linking transaction, its golden job queued in it, as for any arrival. Run here rather than
  // queued, so `done` means every record was mapped again, and a rebuild paces itself instead of
  // queueing the whole hub ahead of live arrivals. A batch taken again after a crash (its ingest
  // committed, the cursor not) finds its records mapped by the version in force: only those the
  // new version could not map are taken again.
  mappings: {
    stored: (ctx) => countLiveRecords(ctx.database.db),
    total: (ctx) => countRecordsMappedBefore(ctx.database.db, mappingsInForce(ctx)),
    async step(ctx, rebuildId, cursor) {
      const page = await recordsMappedBefore(ctx.database.db, mappingsInForce(ctx), cursor, 500);
      const last = page[page.length - 1];
      if (!last) return null;
      await ingest(ctx, [...new Set(page.map((r) => r.rawId))], new Map(), [], { remap: true });
      await ctx.database.db.transaction((tx) => advanceRebuild(tx, rebuildId, last.id, page.length));
      return last.id;
    },
  },
  // 500 person records a linking transaction, scored again with the model in force (before any
  // training, the default model): a record that now matches another profile brings it into its own
  // (an arrival's merge, with its pins, guards and cannotLink rules); every other profile is left as
  // it is.
  links: {
    stored: (ctx) => countLivePersonRecords(ctx.database.db),
    total: (ctx, until) => countLivePersonRecords(ctx.database.db, until),
    // Records that arrive once the walk has started are linked with the model it scores with, or a
    // newer one: the walk stops at the last record there was when it started.
    until: (ctx) => lastPersonRecordId(ctx.database.db),
    async step(ctx, rebuildId, cursor, until) {
      const identity = ctx.workspace().identity;
      const model = await ctx.models.current(ctx.database.db, identity);
      // Read and scored without locks; the records that move are linked under their keys' and
      // profiles' locks, each as it is then (see linkFragments' `relink`). On PostgreSQL a page is
      // no larger than an arrival's linking transaction, whose locks it may take.
      const size = ctx.database.kind === 'postgres' ? ctx.settings.linkTransactionSize : 500;
      return withRetry(() =>
        ctx.database.db.transaction(async (tx) => {
          const { fragments, lastId } = await storedFragmentsAfter(tx, cursor, size, until);
          if (lastId === null) return null;
          const link = await linkFragments(tx, fragments, identity, model?.model, { relink: true });
          if (link.profileIds.size > 0) await enqueue(ctx.boss, tx, 'golden', { profileIds: [...link.profileIds], merges: link.merges });
          await advanceRebuild(tx, rebuildId, lastId, fragments.length);
          return lastId;
        }),
      );
    },
  },
};

/**
 * At start-up: queues a rebuild of each kind of derived data whose definition in the workspace is
 * not the one it was last derived from. A new hub (nothing stored) records the definition instead.
 */
export async function rebuildStale(ctx: PipelineContext): Promise<Rebuild[]> {
  const queued: Rebuild[] = [];
  const modelId = await modelInForce(ctx);
  for (const kind of REBUILD_KINDS) {
    const definition = definitionOf(kind, ctx.workspace(), modelId);
    const last = await lastDefinition(ctx.database.db, kind);
    if (last === definition) continue;
    const empty = (await WORK[kind].stored(ctx)) === 0;
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

/** The id of the persons' model in force, if any (what a links rebuild scores with). */
async function modelInForce(ctx: PipelineContext): Promise<number | null> {
  return (await ctx.models.current(ctx.database.db, ctx.workspace().identity))?.id ?? null;
}

/** Asks for a rebuild of each kind now, whatever the definitions (`POST /rebuilds`, `aurum rebuild`). */
export async function requestRebuilds(ctx: PipelineContext, kinds: readonly RebuildKind[], reason: string): Promise<Rebuild[]> {
  const modelId = await modelInForce(ctx);
  return ctx.database.db.transaction(async (tx) => {
    const out: Rebuild[] = [];
    for (const kind of kinds) out.push(await requestRebuild(ctx, tx, kind, reason, definitionOf(kind, ctx.workspace(), modelId)));
    return out;
  });
}

/**
 * The rebuild job: walks the kind's table from the rebuild's cursor, a batch at a time (see `WORK`),
 * and marks it done. A job retried after its process died resumes at the cursor.
 */
export async function runRebuild(ctx: PipelineContext, job: RebuildJob): Promise<void> {
  const rebuild = await getRebuild(ctx.database.db, job.rebuildId);
  if (!rebuild || rebuild.status === 'done' || rebuild.status === 'failed') return;
  const db = ctx.database.db;
  const work = WORK[rebuild.kind];
  const until = await work.until?.(ctx);
  const total = await work.total(ctx, until);
  await db.transaction((tx) => startRebuild(tx, rebuild.id, total));
  let cursor: number | null = rebuild.cursor;
  try {
    while (cursor !== null) cursor = await work.step(ctx, rebuild.id, cursor, until);
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
