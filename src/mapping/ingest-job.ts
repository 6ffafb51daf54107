import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/database.ts';
import { bigintArray, textArray, withRetry } from '../db/sql.ts';
import type { GoldenJob } from '../golden/refresh.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { QUEUES, sendInTx } from '../queue/queues.ts';
import { linkFragments, type Merge } from '../resolution/link.ts';
import { needsTraining, TrainingError, trainModel } from '../resolution/live-model.ts';
import { countRecords, scheduleTrainingIfDue } from '../resolution/train-job.ts';
import { type Fragment, type MappingFailure, mapRecord, type RawRecord } from './apply.ts';

export interface IngestJob {
  rawIds: number[];
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

/**
 * Maps a batch of raw records and hands the fragments to resolution, all in one transaction:
 * quarantine entries, links and the golden-record job commit together or not at all.
 */
export async function ingest(
  ctx: PipelineContext,
  rawIds: readonly number[],
  /** Records of file imports in this batch, by import: counted as processed when the batch commits. */
  imported: ReadonlyMap<string, number> = new Map(),
): Promise<IngestOutcome> {
  const workspace = ctx.workspace();
  const raws = rowsOf<{ id: string | number; source: string; received_at: Date | string; content_hash: string; payload: unknown }>(
    await ctx.database.db.execute(sql`
      select id, source, received_at, content_hash, payload from raw_records
      where id = any(${bigintArray(rawIds)}) order by id`),
  );
  const fragments: Fragment[] = [];
  const failures: MappingFailure[] = [];
  for (const raw of raws) {
    const record: RawRecord = {
      id: Number(raw.id),
      source: raw.source,
      receivedAt: new Date(raw.received_at),
      contentHash: raw.content_hash,
      payload: raw.payload,
    };
    const result = await mapRecord(record, workspace.mappings, {
      defaultRegion: ctx.settings.defaultRegion,
      knownPurpose: (purpose) => workspace.purposes.known(purpose),
    });
    fragments.push(...result.fragments);
    failures.push(...result.failures);
  }
  const identity = workspace.identity;
  const model = await ctx.models.current(ctx.database.db, identity);
  // Without a model, only the records that bring the hub up to training.minRecords link on
  // identifiers; the first model is trained on them, in this transaction, and links the rest.
  let room = fragments.length;
  let held = 0;
  if (!model) {
    held = await countRecords(ctx.database.db);
    if (needsTraining(identity, held + fragments.length, undefined, ctx.models.failedAt))
      room = Math.max(identity.training.minRecords - held, 0);
  }
  const parts = room < fragments.length ? [fragments.slice(0, room), fragments.slice(room)] : [fragments];
  /** Records with nothing in common yet teach nothing: link on identifiers, try when they grow. */
  const keepLinkingOnIdentifiers = async (error: unknown): Promise<undefined> => {
    if (!(error instanceof TrainingError)) throw error;
    ctx.models.noteTrainingFailed(held + room);
    return undefined;
  };

  const outcome = await withRetry(() =>
    ctx.database.db.transaction(async (tx) => {
      await quarantineFailures(
        tx,
        raws.map((r) => Number(r.id)),
        failures,
      );
      for (const [importId, n] of imported) {
        await tx.execute(sql`update imports set processed = processed + ${n} where id = ${importId}`);
      }
      let current = model;
      let unchanged = 0;
      const profileIds = new Set<string>();
      const merges: Merge[] = [];
      for (const [i, part] of parts.entries()) {
        if (i > 0 && !current) current = (await trainModel(tx, identity, 'aurum').catch(keepLinkingOnIdentifiers))?.stored;
        const link = await linkFragments(tx, part, identity, current?.model);
        unchanged += link.unchanged;
        for (const id of link.profileIds) profileIds.add(id);
        merges.push(...link.merges);
      }
      // Golden records are rebuilt by the next stage, outside the resolution lock.
      if (profileIds.size > 0) await sendInTx(ctx.boss, tx, QUEUES.golden, { profileIds: [...profileIds], merges } satisfies GoldenJob);
      return { unchanged, profilesChanged: profileIds.size, trained: current !== model };
    }),
  );
  if (outcome.trained) ctx.models.invalidate();
  await scheduleTrainingIfDue(ctx, model, fragments.length);
  const summary = { records: raws.length, fragments: fragments.length, quarantined: failures.length, ...outcome };
  ctx.log.debug({ ingest: summary }, 'ingested batch');
  if (failures.length > 0) {
    ctx.log.warn({ quarantined: failures.map((f) => ({ rawId: f.rawId, source: f.source, code: f.code })) }, 'records quarantined');
  }
  return summary;
}

/** Each attempt at a raw record replaces its open quarantine entries: a fixed mapping clears them. */
async function quarantineFailures(tx: Tx, rawIds: number[], failures: MappingFailure[]) {
  await tx.execute(sql`
    update quarantine set status = 'resolved', resolved_at = now()
    where status = 'open' and raw_id = any(${bigintArray(rawIds)})`);
  if (failures.length === 0) return;
  await tx.execute(sql`
    insert into quarantine (raw_id, source, mapping_file, code, message)
    select * from unnest(${bigintArray(failures.map((f) => f.rawId))}, ${textArray(failures.map((f) => f.source))},
      ${sql.param(failures.map((f) => f.mappingFile))}::text[], ${textArray(failures.map((f) => f.code))},
      ${textArray(failures.map((f) => f.message))})`);
}
