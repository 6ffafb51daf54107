import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/database.ts';
import { sourceRecords } from '../db/schema.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { needsTraining, type StoredModel, TrainingError, type TrainingSummary, trainModel } from './live-model.ts';

export interface TrainJob {
  records: number;
}

export async function countRecords(db: Queryable): Promise<number> {
  return db.$count(sourceRecords, eq(sourceRecords.entity, 'person'));
}

/**
 * After an ingest batch: counts the records and queues a training when there are enough for a first
 * model, or they have grown enough since the one in force. Counting is a scan, so it happens when
 * this process's own arrivals (`added`, on top of the last count) make a training due, and otherwise
 * every few seconds, for what other processes added. Checking on a timer alone let a fast arrival
 * run most of its records on a model trained on a fiftieth of them.
 */
export async function scheduleTrainingIfDue(ctx: PipelineContext, current: StoredModel | undefined, added = 0): Promise<void> {
  const identity = ctx.workspace().identity;
  ctx.models.addRecords(added);
  const estimate = ctx.models.estimate();
  const dueByEstimate =
    estimate !== undefined && !ctx.models.trainingQueued(current) && needsTraining(identity, estimate, current, ctx.models.failedAt);
  // Without a model, every batch is scored by the default model alone: look sooner.
  if (!dueByEstimate && !ctx.models.dueForCheck(current ? 10_000 : 1000)) return;
  const records = await countRecords(ctx.database.db);
  ctx.models.noteRecords(records);
  if (!needsTraining(identity, records, current, ctx.models.failedAt)) return;
  await enqueue(ctx.boss, undefined, 'train', { records });
  ctx.models.noteTrainingQueued(current);
  ctx.log.info({ records, model: current?.id ?? null }, 'identity model training queued');
}

/** The training job: trains only if it is still due (another process may have trained meanwhile). */
export async function runTraining(ctx: PipelineContext): Promise<TrainingSummary | undefined> {
  const identity = ctx.workspace().identity;
  ctx.models.invalidate();
  const current = await ctx.models.current(ctx.database.db, identity);
  const records = await countRecords(ctx.database.db);
  if (!needsTraining(identity, records, current, ctx.models.failedAt)) return undefined;
  let summary: TrainingSummary;
  try {
    ({ summary } = await trainModel(ctx.database.db, identity, 'aurum'));
  } catch (error) {
    if (!(error instanceof TrainingError)) throw error;
    // Not a failure of the hub: the records give nothing to learn from yet. Try again when they grow.
    ctx.models.noteTrainingFailed(records);
    ctx.log.info({ records, reason: error.message }, 'identity model not trained yet');
    return undefined;
  }
  ctx.models.invalidate();
  ctx.log.info({ model: summary }, 'identity model trained');
  await ctx.modelTrained(summary.id);
  return summary;
}
