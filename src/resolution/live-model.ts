import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { eq, sql } from 'drizzle-orm';
import { type Queryable, type Raw, rowsOf } from '../db/database.ts';
import { identityModels, sourceRecords } from '../db/schema.ts';
import { textArray } from '../db/sql.ts';
import type { Profile } from '../mapping/profile.ts';
import type { IdentityConfig } from './probabilistic/config.ts';
import { engineFor, type Model } from './probabilistic/engine.ts';
import { ruleId } from './probabilistic/features.ts';
import { describeLevel } from './probabilistic/levels.ts';
import { deserialise, type SerialisedModel, serialise } from './probabilistic/model-json.ts';

/**
 * The live pipeline's Fellegi–Sunter model: trained on the hub's own records with the batch engine's
 * estimation (no labels), stored in `identity_models`, newest in force.
 */
export interface StoredModel {
  id: number;
  records: number;
  model: Model;
}

/**
 * What a model depends on: a model trained for other comparisons or blocking rules is not used. The
 * rules count by content (`ruleId`), so listing them in another order keeps the model.
 */
export function configHash(config: IdentityConfig): string {
  const { comparisons, blocking, nicknames } = config;
  return createHash('sha256')
    .update(JSON.stringify({ comparisons, blocking: blocking.map(ruleId).sort(), nicknames: nicknames ?? null }))
    .digest('hex')
    .slice(0, 16);
}

/** The hashes a stored model of this configuration may carry: `configHash`, and the one of models trained when rules counted by position. */
function configHashes(config: IdentityConfig): string[] {
  const { comparisons, blocking, nicknames } = config;
  const byPosition = createHash('sha256')
    .update(JSON.stringify({ comparisons, blocking, nicknames: nicknames ?? null }))
    .digest('hex')
    .slice(0, 16);
  return [configHash(config), byPosition];
}

export class TrainingError extends Error {
  readonly code = 'not_enough_records';
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

export interface TrainingSummary {
  id: number;
  records: number;
  sampled: number;
  candidatePairs: number;
  lambda: number;
  /** The matched pairs EM expects among the candidates: the evidence its m estimates rest on. */
  expectedMatches: number;
  /** Set when the records are too few to learn from: the defaults outweigh what was learned. */
  warning?: string;
  seconds: number;
}

/** Below this many records training takes less time than starting a thread (u samples up to n²/2 pairs). */
const THREAD_FROM = 500;

type Trained = { model: Model; pairs: number; expectedMatches: number };

export function trainHere(config: IdentityConfig, fragments: string[]): Trained {
  const engine = engineFor(config);
  const profiles = fragments.map((f) => JSON.parse(f) as Profile);
  return engine.train(profiles);
}

export function trainOffThread(config: IdentityConfig, fragments: string[]): Promise<Trained> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./probabilistic/train-thread.ts', import.meta.url), { workerData: { config, fragments } });
    worker.once('message', (result: { model: SerialisedModel; pairs: number; expectedMatches: number }) => {
      resolve({ model: deserialise(result.model), pairs: result.pairs, expectedMatches: result.expectedMatches });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the training thread exited with code ${code}`));
    });
  });
}

/**
 * Trains a model on (a random sample of) the stored records and makes it the one in force.
 * Profiles already formed are left as they are: the model scores arrivals from now on.
 */
export async function trainModel(
  db: Queryable,
  config: IdentityConfig,
  trainedBy: string,
): Promise<{ summary: TrainingSummary; stored: StoredModel }> {
  const started = performance.now();
  const records = await db.$count(sourceRecords, eq(sourceRecords.entity, 'person'));
  const share = Math.min(1, config.training.maxSample / Math.max(records, 1));
  const rows = rowsOf<{ fragment: string }>(
    await db.execute(
      share >= 1
        ? sql`select fragment::text as fragment from source_records where entity = 'person' order by id`
        : sql`select fragment::text as fragment from source_records where entity = 'person' and random() < ${share} order by id limit ${config.training.maxSample}`,
    ),
  );
  if (rows.length < 2) throw new TrainingError(`training needs at least 2 records; the hub holds ${rows.length}`);
  const fragments = rows.map((r) => r.fragment);
  const { model, pairs, expectedMatches } =
    fragments.length >= THREAD_FROM ? await trainOffThread(config, fragments) : trainHere(config, fragments);
  if (pairs === 0) {
    throw new TrainingError(`no two of the ${rows.length} records share a blocking key: there is nothing to learn m from yet`);
  }
  const [row] = rowsOf<Raw<Pick<typeof identityModels.$inferSelect, 'id'>>>(
    await db.execute(sql`
      insert into identity_models (config_hash, records, sampled, candidate_pairs, model, trained_by)
      values (${configHash(config)}, ${records}, ${rows.length}, ${pairs}, ${JSON.stringify(serialise(model))}::jsonb, ${trainedBy})
      returning id`),
  );
  const id = Number(row?.id);
  return {
    summary: {
      id,
      records,
      sampled: rows.length,
      candidatePairs: pairs,
      lambda: model.lambda,
      expectedMatches: Math.round(expectedMatches),
      ...(expectedMatches < config.training.priorMatches
        ? {
            warning: `too few records to learn from: about ${Math.round(expectedMatches)} matched pairs among the ${rows.length} records, fewer than the ${config.training.priorMatches} the default m counts for (identity.yaml training.priorMatches); the model leans on the defaults until the hub holds more`,
          }
        : {}),
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    },
    stored: { id, records, model },
  };
}

/**
 * The model in force for a configuration, read again at most every `ttlMs`: every process of a hub
 * picks up a model another one trained.
 */
export class ModelCache {
  #loaded: { hash: string; at: number; value: StoredModel | undefined } | undefined;
  readonly #ttlMs: number;

  constructor(ttlMs = 5000) {
    this.#ttlMs = ttlMs;
  }

  async current(db: Queryable, config: IdentityConfig): Promise<StoredModel | undefined> {
    return this.#scaled(await this.#read(db, config));
  }

  #records: number | undefined;
  /** Records this process has linked since the last count. */
  #addedSince = 0;
  /** The model (its id, 0 for none) a training was last queued to replace. */
  #queuedFor: number | undefined;
  /** The number of records the hub holds now, as last counted. */
  noteRecords(records: number): void {
    this.#records = records;
    this.#addedSince = 0;
  }

  /** Counts this process's arrivals between counts: the count plus these estimates the records held. */
  addRecords(n: number): void {
    this.#addedSince += n;
  }

  estimate(): number | undefined {
    return this.#records === undefined ? undefined : this.#records + this.#addedSince;
  }

  /** Whether a training was already queued to replace this model. */
  trainingQueued(current: StoredModel | undefined): boolean {
    return this.#queuedFor === (current?.id ?? 0);
  }

  noteTrainingQueued(current: StoredModel | undefined): void {
    this.#queuedFor = current?.id ?? 0;
  }

  /**
   * λ is the chance that two records drawn at random are one person. Each person has about as many
   * records however many people the hub holds, so λ falls as 1/records: a model trained on fewer
   * records than the hub holds now has its prior scaled down, until it is retrained.
   */
  #scaled(stored: StoredModel | undefined): StoredModel | undefined {
    const now = this.#records;
    if (!stored || now === undefined || now <= stored.records) return stored;
    return { ...stored, model: { ...stored.model, lambda: (stored.model.lambda * stored.records) / now } };
  }

  async #read(db: Queryable, config: IdentityConfig): Promise<StoredModel | undefined> {
    const hash = configHash(config);
    const hashes = configHashes(config);
    const loaded = this.#loaded;
    if (loaded && loaded.hash === hash && Date.now() - loaded.at < this.#ttlMs) return loaded.value;
    const [latest] = rowsOf<Raw<Pick<typeof identityModels.$inferSelect, 'id'>>>(
      await db.execute(sql`select id from identity_models where config_hash = any(${textArray(hashes)}) order by id desc limit 1`),
    );
    const id = latest ? Number(latest.id) : undefined;
    let value = loaded?.hash === hash && loaded.value?.id === id ? loaded.value : undefined;
    if (id !== undefined && !value) {
      const [row] = await db
        .select({ records: identityModels.records, model: identityModels.model })
        .from(identityModels)
        .where(eq(identityModels.id, id));
      if (row) value = { id, records: row.records, model: deserialise(row.model as SerialisedModel) };
    }
    this.#loaded = { hash, at: Date.now(), value };
    return value;
  }

  /** Forget what was read: the next `current` reads the database. */
  invalidate(): void {
    this.#loaded = undefined;
  }

  /** Records held when training last found no candidate pairs: training waits for them to grow. */
  failedAt: number | undefined;
  noteTrainingFailed(records: number): void {
    this.failedAt = records;
  }

  #checkedAt = 0;
  /** True at most once every `intervalMs`: how often a process counts records to decide on training. */
  dueForCheck(intervalMs = 10_000): boolean {
    if (Date.now() - this.#checkedAt < intervalMs) return false;
    this.#checkedAt = Date.now();
    return true;
  }
}

/** A model as `GET /identity/model` shows it: every field's levels with m, u and their weight. */
export async function describeModel(db: Queryable, config: IdentityConfig) {
  const [row] = rowsOf<
    Raw<Pick<typeof identityModels.$inferSelect, 'id' | 'records' | 'sampled' | 'candidatePairs' | 'trainedBy' | 'trainedAt'>> & {
      model: SerialisedModel;
    }
  >(
    await db.execute(sql`
      select id, records, sampled, candidate_pairs as "candidatePairs", model, trained_by as "trainedBy", trained_at as "trainedAt"
      from identity_models
      where config_hash = any(${textArray(configHashes(config))}) order by id desc limit 1`),
  );
  if (!row) return undefined;
  const { lambda, m, u, tf } = row.model;
  return {
    id: Number(row.id),
    trainedAt: new Date(row.trainedAt).toISOString(),
    trainedBy: row.trainedBy,
    records: Number(row.records),
    sampled: Number(row.sampled),
    candidatePairs: Number(row.candidatePairs),
    lambda,
    priorWeight: Math.log2(lambda / (1 - lambda)),
    threshold: config.thresholdWeight !== undefined ? { weight: config.thresholdWeight } : { probability: config.threshold },
    comparisons: config.comparisons.map((c, ci) => ({
      field: c.field,
      termFrequencyAdjusted: Boolean(c.tf),
      ...(tf[ci] ? { distinctRepeatedValues: Object.keys(tf[ci]?.counts ?? {}).length } : {}),
      levels: (m[ci] ?? []).slice(1).map((mi, l) => {
        const ui = (u[ci] ?? [])[l + 1] as number;
        return { level: describeLevel(c.levels, l + 1), m: mi, u: ui, weight: Math.log2(mi / ui) };
      }),
    })),
  };
}

/**
 * Whether the records have grown enough since the model in force to train again; or, without one,
 * whether there are enough, and enough more than when training last found nothing to learn from.
 */
export function needsTraining(
  config: IdentityConfig,
  records: number,
  current: StoredModel | undefined,
  failedAt: number | undefined = undefined,
): boolean {
  if (records < config.training.minRecords) return false;
  if (current) return records >= current.records * config.training.retrainGrowth;
  return failedAt === undefined || records >= failedAt * config.training.retrainGrowth;
}
