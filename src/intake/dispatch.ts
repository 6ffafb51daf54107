import { sql } from 'drizzle-orm';
import { type Raw, rowsOf } from '../db/database.ts';
import type { intakeOutbox, rawRecords } from '../db/schema.ts';
import { uuidArray } from '../db/sql.ts';
import { safeError } from '../log/log.ts';
import type { IngestJob } from '../pipeline/ingest-job.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue, ingestJobs } from '../queue/catalog.ts';

/** Outbox rows a round claims at most; a full round means more are waiting, and the next starts at once. */
const ROUND = 2_000;
/**
 * The least time between two rounds woken by new intakes. Each round is a transaction of four
 * round trips; woken after every group commit, rounds would cost what the outbox saved intake. At
 * 20 ms a round gathers the intakes of several commits and adds at most 20 ms before ingest.
 */
const GAP_MS = 20;
/** Rounds run this often without being woken: intakes queued by another process, or by one that died. */
const POLL_MS = 1_000;
/** How often a process prunes replay keys older than a day. */
const PRUNE_EVERY_MS = 10 * 60_000;

type Claimed = Raw<Pick<typeof intakeOutbox.$inferSelect, 'seq'>> &
  Pick<typeof intakeOutbox.$inferSelect, 'intakeId' | 'records' | 'hydrate'>;

/**
 * Moves intakes from `intake_outbox` to pg-boss jobs: ingest jobs naming the intakes, or hydrate
 * jobs naming their raw records. Each round deletes the rows it claims and inserts their jobs in one
 * transaction, so an intake is queued exactly once; `skip locked` lets every process of a hub run
 * one, and the intakes of a process that died are queued by the next round of any other.
 */
export class IntakeDispatcher {
  readonly #ctx: PipelineContext;
  #round: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #poller: NodeJS.Timeout | undefined;
  #lastRound = 0;
  #prunedAt = Date.now();
  #stopped = false;

  constructor(ctx: PipelineContext) {
    this.#ctx = ctx;
  }

  start(): void {
    this.#poller = setInterval(() => this.wake(0), POLL_MS);
    this.#poller.unref();
    this.wake(0);
  }

  /** Asks for a round soon: at once when idle, else right after the one running. */
  wake(gapMs = GAP_MS): void {
    if (this.#stopped) return;
    if (this.#round !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastRound + gapMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.#run().finally(() => {
        this.#round = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
    }, wait);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poller);
    clearTimeout(this.#timer);
    await this.#round;
  }

  async #run(): Promise<void> {
    try {
      // A full round means more are waiting: take them now rather than a gap later.
      while (!this.#stopped && (await this.dispatch()) === ROUND) {}
      if (Date.now() - this.#prunedAt > PRUNE_EVERY_MS) {
        this.#prunedAt = Date.now();
        await this.#ctx.database.db.execute(sql`delete from webhook_receipts where received_at < now() - interval '1 day'`);
      }
    } catch (error) {
      // The rows stay in the outbox: the next round (a second away at most) takes them.
      this.#ctx.log.warn({ error: safeError(error) }, 'intakes not handed to the ingest queue; retrying');
    } finally {
      this.#lastRound = Date.now();
    }
  }

  /** One round: claims up to `ROUND` intakes in their order of arrival and queues them; returns how many. */
  async dispatch(): Promise<number> {
    const size = this.#ctx.settings.ingestBatchSize;
    return this.#ctx.database.db.transaction(async (tx) => {
      const claimed = rowsOf<Claimed>(
        await tx.execute(sql`
          delete from intake_outbox
          where seq in (select seq from intake_outbox order by seq limit ${ROUND} for update skip locked)
          returning seq, intake_id::text as "intakeId", records, hydrate`),
      ).sort((a, b) => Number(a.seq) - Number(b.seq));
      const toIngest = claimed.filter((c) => !c.hydrate);
      if (toIngest.length > 0) await enqueue(this.#ctx.boss, tx, 'ingest', intakeJobs(toIngest, size));
      const toHydrate = claimed.filter((c) => c.hydrate);
      if (toHydrate.length > 0) {
        const rawIds = rowsOf<Raw<Pick<typeof rawRecords.$inferSelect, 'id'>>>(
          await tx.execute(
            sql`select id from raw_records where intake_id = any(${uuidArray(toHydrate.map((c) => c.intakeId))}) order by id`,
          ),
        ).map((r) => Number(r.id));
        await enqueue(this.#ctx.boss, tx, 'hydrate', ingestJobs(rawIds, size));
      }
      return claimed.length;
    });
  }
}

/** Ingest jobs naming intakes, about `size` records a job (an intake larger than that alone). */
function intakeJobs(intakes: readonly Claimed[], size: number): { data: IngestJob }[] {
  const jobs: { data: IngestJob }[] = [];
  let current: string[] = [];
  let records = 0;
  for (const c of intakes) {
    if (current.length > 0 && records + c.records > size) {
      jobs.push({ data: { rawIds: [], intakeIds: current } });
      current = [];
      records = 0;
    }
    current.push(c.intakeId);
    records += c.records;
  }
  if (current.length > 0) jobs.push({ data: { rawIds: [], intakeIds: current } });
  return jobs;
}
