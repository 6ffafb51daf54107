import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, type PgBoss, type Queue } from 'pg-boss';
import type { Settings } from '../config/settings.ts';
import type { Database, Tx } from '../db/database.ts';

/** The pipeline's queues; each stage hands work to the next through one of them. */
export const QUEUES = {
  /** raw records → mapping → resolution */
  ingest: 'aurum-ingest',
  /** profiles whose members changed → golden records → changes for fan-out */
  golden: 'aurum-golden',
  /** changed golden records → one delivery per qualifying destination */
  fanout: 'aurum-fanout',
  /** one delivery → one signed POST, retried with backoff */
  deliver: 'aurum-deliver',
  /** train the identity model on the stored records; one at a time */
  train: 'aurum-train',
  /** pull one source's API from its cursor; one run per source at a time */
  sync: 'aurum-sync',
  /** webhook records that carry ids only → the objects they name, fetched → ingest */
  hydrate: 'aurum-hydrate',
  /** a new destination → every qualifying profile, a page at a time → deliver */
  backfill: 'aurum-backfill',
  /** derived data whose definition changed (keys, golden records) → derived again, a batch at a time */
  rebuild: 'aurum-rebuild',
} as const;

/** The longest timeout a destination may set (`timeoutMs`). */
export const MAX_DESTINATION_TIMEOUT_MS = 120_000;

/**
 * How soon a job whose process died is released: each worker refreshes its jobs' heartbeat every
 * half of this, and the supervisor (every AURUM_SUPERVISE_INTERVAL) fails and retries a job whose
 * heartbeat is older. Without one, a killed process's jobs stayed `active` until their expiry
 * (15 minutes; an hour for training), its records in no profile. 10 s is pg-boss's minimum.
 */
export const HEARTBEAT_SECONDS = 10;

export function queueOptions(settings: Settings): Record<string, Omit<Queue, 'name'>> {
  // notify: a send wakes idle workers through LISTEN/NOTIFY instead of leaving the job to the next poll.
  const leased = { heartbeatSeconds: HEARTBEAT_SECONDS };
  return {
    [QUEUES.ingest]: { ...leased, notify: true, retryLimit: 10, retryDelay: 1, retryBackoff: true, retryDelayMax: 300 },
    [QUEUES.golden]: { ...leased, notify: true, retryLimit: 10, retryDelay: 1, retryBackoff: true, retryDelayMax: 300 },
    [QUEUES.fanout]: { ...leased, notify: true, retryLimit: 10, retryDelay: 1, retryBackoff: true, retryDelayMax: 300 },
    // A send schedules its own retries (backoff with jitter over the retry window, then a dead
    // letter: src/delivery/send.ts). pg-boss retries only a handler that crashed.
    [QUEUES.deliver]: {
      ...leased,
      notify: true,
      // Only a crashed handler is retried here; each retry takes over the interrupted send. Ten
      // crashes in a row are needed to strand a delivery in `sending`.
      retryLimit: 10,
      retryDelay: 1,
      retryBackoff: true,
      // A hung receiver must not hold a job forever: the send itself times out well before this.
      expireInSeconds: Math.ceil(Math.max(settings.delivery.timeoutMs, MAX_DESTINATION_TIMEOUT_MS) / 1000) + 60,
    },
    // exclusive: one training queued or running at a time, however many batches ask for one. It
    // trains off the event loop, so the heartbeat keeps beating through a long training.
    [QUEUES.train]: { ...leased, policy: 'exclusive', retryLimit: 2, retryDelay: 5, expireInSeconds: 3600 },
    // exclusive per singletonKey (the source): a schedule firing during a run adds nothing. A run
    // records its own failure and resumes from its cursor next time, so the job is not retried.
    [QUEUES.sync]: { ...leased, policy: 'exclusive', retryLimit: 0, expireInSeconds: 6 * 3600 },
    [QUEUES.backfill]: { ...leased, retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 6 * 3600 },
    // A rebuild resumes at its cursor when retried, so a retry repeats at most one batch.
    [QUEUES.rebuild]: { ...leased, retryLimit: 20, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 12 * 3600 },
    // A vendor outage delays hydration: retried for about a day before the job fails for good.
    [QUEUES.hydrate]: { ...leased, notify: true, retryLimit: 30, retryDelay: 10, retryBackoff: true, retryDelayMax: 3600 },
  };
}

export async function startQueues(
  database: Database,
  settings: Settings,
  onError: (e: Error) => void,
  options: { supervise: boolean },
): Promise<PgBoss> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({
    ...database.bossOptions,
    schema: 'pgboss',
    useListenNotify: true,
    supervise: options.supervise,
    superviseIntervalSeconds: settings.superviseIntervalSeconds,
    monitorIntervalSeconds: settings.superviseIntervalSeconds,
    schedule: options.supervise,
    registerInstance: false,
  });
  boss.on('error', onError);
  await boss.start();
  for (const [name, queue] of Object.entries(queueOptions(settings))) {
    const existing = await boss.getQueue(name);
    // A queue's policy is fixed at creation; the rest may be tuned.
    const { policy: _policy, ...tunable } = queue;
    if (existing) await boss.updateQueue(name, tunable);
    else await boss.createQueue(name, queue);
  }
  return boss;
}

/** Enqueues inside `tx`, so the job exists if and only if the state change that needs it commits. */
export function sendInTx(
  boss: PgBoss,
  tx: Tx,
  name: string,
  data: object,
  options: { startAfter?: number | Date } = {},
): Promise<string | null> {
  return boss.send(name, data, { ...options, db: txAdapter(tx) });
}

/** Our transactions are typed for both drivers, so their result type is `unknown`; both fit. */
export const txAdapter = (tx: Tx) => fromDrizzle(tx as unknown as DrizzleTransactionLike, sql);

/** Ingest jobs for raw records, `size` records a job. */
export function ingestJobs(
  rawIds: readonly number[],
  size: number,
  importId?: string,
): { data: { rawIds: number[]; importId?: string } }[] {
  const jobs = [];
  for (let i = 0; i < rawIds.length; i += size) {
    jobs.push({ data: { rawIds: rawIds.slice(i, i + size), ...(importId ? { importId } : {}) } });
  }
  return jobs;
}
