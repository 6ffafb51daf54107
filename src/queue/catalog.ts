import { Ajv, type JSONSchemaType, type ValidateFunction } from 'ajv';
import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type PgBoss, type Queue, type SendOptions } from 'pg-boss';
import type { Settings } from '../config/settings.ts';
import type { SyncJob } from '../connectors/sync/run.ts';
import type { Tx } from '../db/database.ts';
import type { BackfillJob } from '../delivery/backfill.ts';
import type { FanoutJob } from '../delivery/fanout.ts';
import type { DeliverJob } from '../delivery/send.ts';
import type { GoldenJob, ProfileChange } from '../golden/refresh.ts';
import type { IngestJob } from '../pipeline/ingest-job.ts';
import type { RebuildJob } from '../rebuild/store.ts';
import type { Member } from '../resolution/memberships.ts';
import type { TrainJob } from '../resolution/train-job.ts';

/** The longest timeout a destination may set (`timeoutMs`). */
export const MAX_DESTINATION_TIMEOUT_MS = 120_000;

/**
 * How soon a job whose process died is released: each worker refreshes its jobs' heartbeat every
 * half of this, and the supervisor (every AURUM_SUPERVISE_INTERVAL) fails and retries a job whose
 * heartbeat is older. Without one, a killed process's jobs stayed `active` until their expiry
 * (15 minutes; an hour for training), its records in no profile. 10 s is pg-boss's minimum.
 */
export const HEARTBEAT_SECONDS = 10;

// Optional properties are `nullable` in ajv's JSONSchemaType, so a stored `null` passes for absent:
// every handler reads them with `??` or a truthiness test. Extra properties are let through: in a
// rolling upgrade a newer process may queue a field this one does not know yet, and failing its job
// for good would leave its records unprocessed.
const rawIds: JSONSchemaType<IngestJob> = {
  type: 'object',
  properties: {
    rawIds: { type: 'array', items: { type: 'integer' } },
    intakeIds: { type: 'array', items: { type: 'string' }, nullable: true },
    importId: { type: 'string', nullable: true },
  },
  required: ['rawIds'],
  additionalProperties: true,
};

const ids = { type: 'array', items: { type: 'string' } } as const;

// ajv's types take `nullable` only on optional properties, and `role` is always there, a string or null.
const member = {
  type: 'object',
  properties: {
    profileId: { type: 'string' },
    role: { type: 'string', nullable: true },
    source: { type: 'string' },
    validFrom: { type: 'string' },
  },
  required: ['profileId', 'role', 'source', 'validFrom'],
  additionalProperties: true,
} as unknown as JSONSchemaType<Member>;

const change: JSONSchemaType<ProfileChange> = {
  anyOf: [
    {
      type: 'object',
      properties: { profileId: { type: 'string' }, event: { type: 'string', const: 'profile.updated' } },
      required: ['profileId', 'event'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: { profileId: { type: 'string' }, event: { type: 'string', const: 'profile.merged' }, merged: ids },
      required: ['profileId', 'event', 'merged'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: {
        profileId: { type: 'string' },
        event: { type: 'string', const: 'profile.split' },
        splitFrom: { type: 'string', nullable: true },
        splitInto: { ...ids, nullable: true },
      },
      required: ['profileId', 'event'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: { profileId: { type: 'string' }, event: { type: 'string', const: 'profile.erased' } },
      required: ['profileId', 'event'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: { profileId: { type: 'string' }, event: { type: 'string', const: 'account.updated' } },
      required: ['profileId', 'event'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: { profileId: { type: 'string' }, event: { type: 'string', const: 'account.merged' }, merged: ids },
      required: ['profileId', 'event', 'merged'],
      additionalProperties: true,
    },
    {
      type: 'object',
      properties: {
        profileId: { type: 'string' },
        event: { type: 'string', const: 'account.split' },
        splitFrom: { type: 'string', nullable: true },
        splitInto: { ...ids, nullable: true },
      },
      required: ['profileId', 'event'],
      additionalProperties: true,
    },
    ...(['account.member_added', 'account.member_removed'] as const).map((event) => ({
      type: 'object' as const,
      properties: { profileId: { type: 'string' as const }, event: { type: 'string' as const, const: event }, member },
      required: ['profileId' as const, 'event' as const, 'member' as const],
      additionalProperties: true,
    })),
  ],
};

// notify: a send wakes idle workers through LISTEN/NOTIFY instead of leaving the job to the next poll.
const leased = { heartbeatSeconds: HEARTBEAT_SECONDS };
const stage = { ...leased, notify: true, retryLimit: 10, retryDelay: 1, retryBackoff: true, retryDelayMax: 300 };

interface QueueEntry<T> {
  /** The pg-boss queue: a contract with every database the hub has run on, never renamed. */
  name: string;
  /** Checked against each job's data before its handler runs. */
  schema: JSONSchemaType<T>;
  options(settings: Settings): Omit<Queue, 'name'>;
}

const entry = <T>(e: QueueEntry<T>) => e;

/**
 * The pipeline's queues, one entry each: pg-boss name, payload schema (whose type is the stage's
 * payload type) and options. Each stage hands work to the next through one of them.
 *
 * @example
 * await enqueue(ctx.boss, tx, 'golden', { profileIds, merges });
 */
export const CATALOG = {
  /** raw records → mapping → resolution */
  ingest: entry<IngestJob>({ name: 'aurum-ingest', schema: rawIds, options: () => stage }),
  /** profiles whose members changed → golden records → changes for fan-out */
  golden: entry<GoldenJob>({
    name: 'aurum-golden',
    schema: {
      type: 'object',
      properties: {
        profileIds: ids,
        merges: {
          type: 'array',
          items: {
            type: 'object',
            properties: { survivorId: { type: 'string' }, retiredIds: ids },
            required: ['survivorId', 'retiredIds'],
            additionalProperties: true,
          },
        },
      },
      required: ['profileIds', 'merges'],
      additionalProperties: true,
    },
    options: () => stage,
  }),
  /** changed golden records → one delivery per qualifying destination */
  fanout: entry<FanoutJob>({
    name: 'aurum-fanout',
    schema: {
      type: 'object',
      properties: { changes: { type: 'array', items: change } },
      required: ['changes'],
      additionalProperties: true,
    },
    options: () => stage,
  }),
  /** one delivery → one signed POST, retried with backoff */
  deliver: entry<DeliverJob>({
    name: 'aurum-deliver',
    schema: {
      type: 'object',
      properties: { deliveryId: { type: 'string' }, destinationId: { type: 'string', nullable: true } },
      required: ['deliveryId'],
      additionalProperties: true,
    },
    // A send schedules its own retries (backoff with jitter over the retry window, then a dead
    // letter: src/delivery/send.ts). pg-boss retries only a handler that crashed.
    options: (settings) => ({
      ...leased,
      notify: true,
      // Only a crashed handler is retried here; each retry takes over the interrupted send. Ten
      // crashes in a row are needed to strand a delivery in `sending`.
      retryLimit: 10,
      retryDelay: 1,
      retryBackoff: true,
      // A hung receiver must not hold a job forever: the send itself times out well before this.
      expireInSeconds: Math.ceil(Math.max(settings.delivery.timeoutMs, MAX_DESTINATION_TIMEOUT_MS) / 1000) + 60,
    }),
  }),
  /** train the identity model on the stored records; one at a time */
  train: entry<TrainJob>({
    name: 'aurum-train',
    schema: { type: 'object', properties: { records: { type: 'number' } }, required: ['records'], additionalProperties: true },
    // exclusive: one training queued or running at a time, however many batches ask for one. It
    // trains off the event loop, so the heartbeat keeps beating through a long training.
    options: () => ({ ...leased, policy: 'exclusive', retryLimit: 2, retryDelay: 5, expireInSeconds: 3600 }),
  }),
  /** pull one source's API from its cursor; one run per source at a time */
  sync: entry<SyncJob>({
    name: 'aurum-sync',
    schema: {
      type: 'object',
      properties: {
        source: { type: 'string' },
        full: { type: 'boolean', nullable: true },
        runId: { type: 'integer', nullable: true },
      },
      required: ['source'],
      additionalProperties: true,
    },
    // exclusive per singletonKey (the source): a schedule firing during a run adds nothing. A run
    // records its own failure and resumes from its cursor next time, so the job is not retried.
    options: () => ({ ...leased, policy: 'exclusive', retryLimit: 0, expireInSeconds: 6 * 3600 }),
  }),
  /** webhook records that carry ids only → the objects they name, fetched → ingest */
  hydrate: entry<IngestJob>({
    name: 'aurum-hydrate',
    schema: rawIds,
    // A vendor outage delays hydration: retried for about a day before the job fails for good.
    options: () => ({ ...leased, notify: true, retryLimit: 30, retryDelay: 10, retryBackoff: true, retryDelayMax: 3600 }),
  }),
  /** a new destination → every qualifying profile, a page at a time → deliver */
  backfill: entry<BackfillJob>({
    name: 'aurum-backfill',
    schema: { type: 'object', properties: { backfillId: { type: 'string' } }, required: ['backfillId'], additionalProperties: true },
    options: () => ({ ...leased, retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 6 * 3600 }),
  }),
  /** derived data whose definition changed (keys, golden records) → derived again, a batch at a time */
  rebuild: entry<RebuildJob>({
    name: 'aurum-rebuild',
    schema: { type: 'object', properties: { rebuildId: { type: 'string' } }, required: ['rebuildId'], additionalProperties: true },
    // A rebuild resumes at its cursor when retried, so a retry repeats at most one batch.
    options: () => ({ ...leased, retryLimit: 20, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 12 * 3600 }),
  }),
};

export type QueueKey = keyof typeof CATALOG;
/** The payload a queue's jobs carry. */
export type PayloadOf<Q extends QueueKey> = (typeof CATALOG)[Q] extends QueueEntry<infer T> ? T : never;
/** A job to insert: its payload and the options of that one job (its group, when it may start). */
export type JobOf<Q extends QueueKey> = { data: PayloadOf<Q> } & Pick<SendOptions, 'group' | 'startAfter' | 'singletonKey'>;

/** pg-boss names by key, for the SQL and the pg-boss calls that name a queue rather than enqueue. */
export const QUEUES = Object.fromEntries(Object.entries(CATALOG).map(([key, queue]) => [key, queue.name])) as Record<QueueKey, string>;

export function queueOptions(settings: Settings): Record<string, Omit<Queue, 'name'>> {
  return Object.fromEntries(Object.values(CATALOG).map((queue) => [queue.name, queue.options(settings)]));
}

/** Options of one enqueue: those of pg-boss but `db`, which is the caller's transaction. */
export type EnqueueOptions = Omit<SendOptions, 'db'>;

/**
 * Enqueues one payload (`boss.send`, resolving to its id, or null when a singleton already holds
 * the slot) or many jobs (`boss.insert`), typed by queue. With `tx`, the jobs are inserted in that
 * transaction, so they exist if and only if the state change that needs them commits; without it
 * (`undefined`), at once. The queue alone sets the payload's type (`NoInfer`): else the jobs of
 * another queue would widen it.
 */
export function enqueue<Q extends QueueKey>(
  boss: PgBoss,
  tx: Tx | undefined,
  queue: Q,
  payload: NoInfer<PayloadOf<Q>>,
  options?: EnqueueOptions,
): Promise<string | null>;
export function enqueue<Q extends QueueKey>(
  boss: PgBoss,
  tx: Tx | undefined,
  queue: Q,
  jobs: readonly NoInfer<JobOf<Q>>[],
): Promise<unknown>;
export function enqueue<Q extends QueueKey>(
  boss: PgBoss,
  tx: Tx | undefined,
  queue: Q,
  work: PayloadOf<Q> | readonly JobOf<Q>[],
  options: EnqueueOptions = {},
): Promise<unknown> {
  const name = CATALOG[queue].name;
  const db = tx ? { db: txAdapter(tx) } : {};
  if (Array.isArray(work)) return boss.insert(name, [...work], db);
  return boss.send(name, work as object, { ...options, ...db });
}

/** Our transactions are typed for both drivers, so their result type is `unknown`; both fit. */
export const txAdapter = (tx: Tx) => fromDrizzle(tx as unknown as DrizzleTransactionLike, sql);

/** Ingest (or hydrate) jobs for raw records, `size` records a job. */
export function ingestJobs(rawIds: readonly number[], size: number, importId?: string): JobOf<'ingest'>[] {
  const jobs: JobOf<'ingest'>[] = [];
  for (let i = 0; i < rawIds.length; i += size) {
    jobs.push({ data: { rawIds: rawIds.slice(i, i + size), ...(importId ? { importId } : {}) } });
  }
  return jobs;
}

/**
 * A job whose stored data does not match its queue's schema. Retrying cannot fix it, so the worker
 * fails it for good. Its message names the queue and the paths and rules that failed, never a value.
 */
export class JobDataError extends Error {
  readonly code = 'invalid_job_data';
  constructor(message: string) {
    super(message);
    this.name = 'JobDataError';
  }
}

// No defaults and no coercion: a handler sees the data exactly as it was stored. Compiled at load,
// so a schema that strict mode refuses stops the hub at start-up, not at its first job.
const ajv = new Ajv({ allErrors: true, strict: true });
const validators = Object.fromEntries(Object.entries(CATALOG).map(([key, queue]) => [key, ajv.compile(queue.schema)])) as Record<
  QueueKey,
  ValidateFunction
>;

/** At most this many problems in a message: an `anyOf` miss lists one per branch. */
const MAX_PROBLEMS = 5;

/** The data of a job on `queue`, checked: its payload, or the JobDataError to fail it with. */
export function checkJobData<Q extends QueueKey>(
  queue: Q,
  data: unknown,
): { ok: true; data: PayloadOf<Q> } | { ok: false; error: JobDataError } {
  const validate = validators[queue];
  if (validate(data)) return { ok: true, data: data as PayloadOf<Q> };
  // instancePath is made of array indexes and properties the schema declares (ajv descends into no
  // other), and messages name the rule, not the value: neither carries the job's data.
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || 'data'} ${e.message ?? 'is invalid'}`);
  const more = problems.length > MAX_PROBLEMS ? ` (and ${problems.length - MAX_PROBLEMS} more)` : '';
  return {
    ok: false,
    error: new JobDataError(
      `${CATALOG[queue].name} job data does not match its schema: ${problems.slice(0, MAX_PROBLEMS).join('; ')}${more}`,
    ),
  };
}
