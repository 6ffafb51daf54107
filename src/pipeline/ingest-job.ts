import { isTransient, shareResolution, withRetry } from '../db/sql.ts';
import { countProcessed } from '../intake/imports-store.ts';
import { readRawRecords } from '../intake/store.ts';
import { safeError } from '../log/log.ts';
import { type Fragment, type MappingFailure, mapRecord, QUARANTINE_CODES, type QuarantineCode, type RawRecord } from '../mapping/apply.ts';
import { flagViolations, quarantineFailures } from '../mapping/quarantine-store.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { jobFailure } from '../queue/job-error.ts';
import { limitIdentifiers } from '../resolution/guards.ts';
import { type LinkOptions, linkFragments } from '../resolution/link.ts';
import { needsTraining, TrainingError, trainModel } from '../resolution/live-model.ts';
import { blockedValues } from '../resolution/probabilistic/config.ts';
import type { Model } from '../resolution/probabilistic/engine.ts';
import { suppressUnmappedErased } from '../resolution/tombstones.ts';
import { countRecords, scheduleTrainingIfDue } from '../resolution/train-job.ts';

export interface IngestJob {
  rawIds: number[];
  /** The records of these intakes (webhook bodies) too: named so, the job needs no raw id back from the insert. */
  intakeIds?: string[];
  /** Set for the records of a file import, whose progress the stage counts. */
  importId?: string;
}

export interface IngestOutcome {
  records: number;
  fragments: number;
  quarantined: number;
  unchanged: number;
  profilesChanged: number;
}

interface LoadedRaw {
  record: RawRecord;
  /** Stored with U+FFFD in place of what jsonb cannot hold: processed, and flagged. */
  replaced: boolean;
  fragments: Fragment[];
  failures: MappingFailure[];
}

/**
 * Maps a batch of raw records and hands the fragments to resolution, all in one transaction:
 * quarantine entries, links and the golden-record job commit together or not at all. A batch that
 * fails for a reason of its data is split until the record at fault is found; that one is
 * quarantined alone (`processing_failed`) and the rest goes on. Only an environment failure (the
 * database unreachable) fails the job, to be retried as it was.
 */
export async function ingest(
  ctx: PipelineContext,
  rawIds: readonly number[],
  /** The import each raw record of a file import belongs to: counted as processed when it commits. */
  importOf: ReadonlyMap<number, string> = new Map(),
  intakeIds: readonly string[] = [],
  /** `remap`: the raw records are those stored records were last mapped from (see `LinkOptions`). */
  options: LinkOptions = {},
): Promise<IngestOutcome> {
  const workspace = ctx.workspace();
  const raws = await readRawRecords(ctx.database.db, rawIds, intakeIds);
  const loaded: LoadedRaw[] = [];
  for (const raw of raws) {
    const record: RawRecord = {
      id: raw.id,
      source: raw.source,
      receivedAt: raw.receivedAt,
      contentHash: raw.contentHash,
      payload: raw.payload,
    };
    try {
      const result = await mapRecord(record, workspace.mappings, {
        defaultRegion: ctx.settings.defaultRegion,
        knownPurpose: (purpose) => workspace.purposes.known(purpose),
        blockedValues: blockedValues(workspace.identity.blockedValues),
      });
      const limited = limitIdentifiers(result.fragments, workspace.identity.guards);
      loaded.push({
        record,
        replaced: raw.replaced,
        fragments: limited.kept,
        failures: [...result.failures, ...limited.failures],
      });
    } catch (error) {
      // mapRecord catches what a mapping throws; what escapes is a bug met by this record alone.
      loaded.push({ record, replaced: raw.replaced, fragments: [], failures: [processingFailure(record, error)] });
    }
  }
  const outcome = await isolate(ctx, loaded, importOf, options);
  // After the batch committed, and outside isolate(): a failure here is no record's fault.
  try {
    const model = await ctx.models.current(ctx.database.db, workspace.identity);
    // Records mapped again are no more records than before: they bring training no nearer.
    await scheduleTrainingIfDue(ctx, model, options.remap ? 0 : loaded.reduce((n, l) => n + l.fragments.length, 0));
  } catch (error) {
    ctx.log.error({ error: safeError(jobFailure(error)) }, 'training not scheduled; the next batch tries again');
  }
  const summary = { records: raws.length, fragments: loaded.reduce((n, l) => n + l.fragments.length, 0), ...outcome };
  ctx.log.debug({ ingest: summary }, 'ingested batch');
  // Fields and kinds only: the values dropped are personal data, kept with their records.
  const dropped = loaded.flatMap((l) =>
    l.fragments.flatMap((f) => (f.violations ?? []).map((v) => ({ rawId: f.rawId, source: f.source, field: v.field, kind: v.kind }))),
  );
  if (dropped.length > 0) ctx.log.info({ dropped }, 'invalid values dropped; their records went on');
  const failures = loaded.flatMap((l) => l.failures);
  if (failures.length > 0) {
    ctx.log.warn({ quarantined: failures.map((f) => ({ rawId: f.rawId, source: f.source, code: f.code })) }, 'records quarantined');
  }
  return summary;
}

type BatchOutcome = Omit<IngestOutcome, 'records' | 'fragments'>;

/**
 * A model trained on fewer records than this is retrained inside the ingest batch that makes it due
 * (see `linkBatch`); one trained on more is retrained by the training job, off the ingest path. The
 * early models are the weakest and the quickest to train: about a second each on 2 cores.
 */
const YOUNG_MODEL_RECORDS = 10_000;

async function isolate(
  ctx: PipelineContext,
  batch: LoadedRaw[],
  importOf: ReadonlyMap<number, string>,
  options: LinkOptions,
): Promise<BatchOutcome> {
  try {
    return await linkBatch(ctx, batch, importOf, options);
  } catch (error) {
    if (isTransient(error)) throw error;
    if (batch.length === 1) {
      const [only] = batch as [LoadedRaw];
      const failure = processingFailure(only.record, error);
      // Kind and code only: a database message can quote the record's values.
      ctx.log.error(
        { rawId: failure.rawId, source: failure.source, error: safeError(jobFailure(error)) },
        'record failed processing: quarantined',
      );
      return linkBatch(ctx, [{ ...only, fragments: [], failures: [failure] }], importOf, options);
    }
    const half = Math.ceil(batch.length / 2);
    const a = await isolate(ctx, batch.slice(0, half), importOf, options);
    const b = await isolate(ctx, batch.slice(half), importOf, options);
    return {
      quarantined: a.quarantined + b.quarantined,
      unchanged: a.unchanged + b.unchanged,
      profilesChanged: a.profilesChanged + b.profilesChanged,
    };
  }
}

/** A quarantine entry that names the failure by its kind and code only: a database message can quote values. */
function processingFailure(record: RawRecord, error: unknown): MappingFailure {
  const { name, code } = safeError(error);
  return {
    rawId: record.id,
    source: record.source,
    mappingFile: null,
    code: 'processing_failed',
    message: `${QUARANTINE_CODES.processing_failed} (${code ? `${name} ${code}` : name})`,
  };
}

async function linkBatch(
  ctx: PipelineContext,
  batch: LoadedRaw[],
  importOf: ReadonlyMap<number, string>,
  options: LinkOptions,
): Promise<BatchOutcome> {
  const identity = ctx.workspace().identity;
  const fragments = batch.flatMap((l) => l.fragments);
  let model = await ctx.models.current(ctx.database.db, identity);
  // Only persons count towards training: accounts have a declared model (identity.yaml `account:`).
  const accounts = fragments.filter((f) => f.entity !== 'person');
  let persons = fragments.filter((f) => f.entity === 'person');
  // Records mapped again (`remap`) are no more records than before: they bring training no nearer.
  const trainsHere = () => !options.remap && (!model || model.records < YOUNG_MODEL_RECORDS);
  const done: BatchOutcome[] = [];
  let held = trainsHere() ? await countRecords(ctx.database.db) : 0;
  // Without a model, the records that bring the hub up to training.minRecords are scored by the
  // default model; the first model is trained on them and links the rest. A young model (trained on fewer than
  // YOUNG_MODEL_RECORDS) is replaced the same way, at each training.retrainGrowth: a batch holds up
  // to thousands of records, and left to the training job they would all link with a model trained
  // on a fraction of them, for good. Each part commits before its training, which identity
  // resolution runs in its own transaction (never inside an ingest transaction, which would hold the
  // resolution lock through it). The batch's bookkeeping (quarantine, import progress) commits with
  // the last part, so a retry of a failed last part counts nothing twice.
  while (trainsHere() && needsTraining(identity, held + persons.length, model, model ? undefined : ctx.models.failedAt)) {
    const due = model ? Math.ceil(model.records * identity.training.retrainGrowth) : identity.training.minRecords;
    const room = Math.max(due - held, 0);
    // Reaching it with the batch's last record is for the training job: nothing is left to link.
    if (room >= persons.length) break;
    const part = [...(done.length === 0 ? accounts : []), ...persons.slice(0, room)];
    done.push(await linkPart(ctx, [], part, model?.model, new Map(), options));
    persons = persons.slice(room);
    held += room;
    try {
      model = (await trainModel(ctx.database.db, identity, 'aurum')).stored;
      ctx.models.invalidate();
      await ctx.modelTrained(model.id);
    } catch (error) {
      // Records with nothing in common yet teach nothing: link with the default model (or the
      // model in force), and try again when they have grown.
      if (!(error instanceof TrainingError)) throw error;
      if (!model) ctx.models.noteTrainingFailed(held);
      break;
    }
  }
  const rest = await linkPart(ctx, batch, done.length === 0 ? fragments : persons, model?.model, importOf, options);
  return {
    quarantined: rest.quarantined,
    unchanged: done.reduce((n, d) => n + d.unchanged, rest.unchanged),
    profilesChanged: done.reduce((n, d) => n + d.profilesChanged, rest.profilesChanged),
  };
}

/**
 * One transaction: links `fragments` with `model` and queues the golden job for the profiles they
 * changed, with the bookkeeping of `batch` (its quarantine entries, flags and import progress).
 */
async function linkPart(
  ctx: PipelineContext,
  batch: LoadedRaw[],
  fragments: Fragment[],
  model: Model | undefined,
  importOf: ReadonlyMap<number, string>,
  options: LinkOptions,
): Promise<BatchOutcome> {
  // On PostgreSQL, workers link side by side, each transaction waiting only for those that share
  // a key or a profile with it (see resolution/locks.ts). A transaction locks about ten keys a
  // record, and PostgreSQL's lock table holds max_locks_per_transaction × max_connections (6,400 by
  // default) for every connection together: a batch of thousands of records in one transaction ran
  // it out. The embedded database has one connection: nothing to share, so no need to split. The
  // batch's bookkeeping commits with the last part.
  const size = ctx.database.kind === 'postgres' ? ctx.settings.linkTransactionSize : Number.POSITIVE_INFINITY;
  if (fragments.length > size) {
    const sorted = [...fragments].sort((a, b) => a.rawId - b.rawId);
    const outcomes: BatchOutcome[] = [];
    for (let i = 0; i + size < sorted.length; i += size) {
      outcomes.push(await linkPart(ctx, [], sorted.slice(i, i + size), model, new Map(), options));
    }
    const last = sorted.slice(Math.floor((sorted.length - 1) / size) * size);
    outcomes.push(await linkPart(ctx, batch, last, model, importOf, options));
    return outcomes.reduce((a, b) => ({
      quarantined: a.quarantined + b.quarantined,
      unchanged: a.unchanged + b.unchanged,
      profilesChanged: a.profilesChanged + b.profilesChanged,
    }));
  }
  const identity = ctx.workspace().identity;
  const failures = batch.flatMap((l) => l.failures);
  const imported = new Map<string, number>();
  for (const l of batch) {
    const importId = importOf.get(l.record.id);
    if (importId) imported.set(importId, (imported.get(importId) ?? 0) + 1);
  }
  // Records that failed mapping may still be an erased person's: recognised by the identifiers in
  // their payload, and suppressed instead of quarantined in full.
  const unmapped = batch.filter((l) => l.fragments.length === 0 && l.failures.length > 0);

  const outcome = await withRetry(() =>
    ctx.database.db.transaction(async (tx) => {
      let erased = new Set<number>();
      if (unmapped.length > 0) {
        // Under the shared resolution lock, as linking checks tombstones: an erasure committed before is seen.
        await tx.execute(shareResolution());
        erased = await suppressUnmappedErased(
          tx,
          unmapped.map((l) => ({ rawId: l.record.id, source: l.record.source, payload: l.record.payload })),
          { defaultRegion: ctx.settings.defaultRegion },
        );
      }
      if (batch.length > 0) {
        await quarantineFailures(
          tx,
          batch.map((l) => l.record.id),
          failures.filter((f) => !erased.has(f.rawId)),
        );
      }
      await countProcessed(tx, imported);
      const flags: { rawId: number; source: string; code: QuarantineCode }[] = batch
        .filter((l) => l.replaced)
        .map((l) => ({ rawId: l.record.id, source: l.record.source, code: 'characters_replaced' }));
      const link = fragments.length > 0 ? await linkFragments(tx, fragments, identity, model, options) : undefined;
      for (const rawId of link?.refusedKeys.keys() ?? []) {
        flags.push({ rawId, source: fragments.find((f) => f.rawId === rawId)?.source ?? '', code: 'key_too_long' });
      }
      await flagViolations(tx, flags);
      // Golden records are rebuilt by the next stage, outside the resolution lock.
      if (link && link.profileIds.size > 0) {
        await enqueue(ctx.boss, tx, 'golden', { profileIds: [...link.profileIds], merges: link.merges });
      }
      return { unchanged: link?.unchanged ?? 0, profilesChanged: link?.profileIds.size ?? 0 };
    }),
  );
  return { quarantined: failures.length, ...outcome };
}
