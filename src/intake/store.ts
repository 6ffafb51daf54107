import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { stringify } from 'safe-stable-stringify';
import { ApiError } from '../api/errors.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import { isTransient, textArray } from '../db/sql.ts';
import type { IngestJob } from '../mapping/ingest-job.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { ingestJobs, QUEUES, txAdapter } from '../queue/queues.ts';
import { hasUnstorableEscape, toStorable } from './record-limits.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
/** sha256 of a record's canonical JSON: equal content, equal hash, whatever the key order. */
export const contentHash = (record: unknown): string => sha256(stringify(record) ?? 'null');

/** How often a process prunes replay keys older than a day. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface Intake {
  source: string;
  records: readonly unknown[];
  bodyHash: string;
  /** A signed delivery's replay key: a second intake with the same one is refused, not stored. */
  receipt?: string;
  /** The body's exact bytes: kept beside a record whose payload had to differ from them (see `insertRawRecords`). */
  body?: Uint8Array;
  /** The records name objects to fetch (`ConnectorType.hydrate`) rather than being mapped themselves. */
  hydrate?: boolean;
}

interface Pending extends Intake {
  intakeId: string;
  resolve: (value: { intakeId: string }) => void;
  reject: (error: unknown) => void;
}

/**
 * Stores records exactly as received (append-only) and enqueues their processing in the same
 * transaction. Concurrent requests share a transaction (group commit): one raw insert and one job
 * insert per batch instead of per request. A caller's promise settles only once its records are
 * committed, so a 202 still means nothing can be lost.
 */
export class RawStore {
  readonly #ctx: PipelineContext;
  #pending: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  #prunedAt = 0;
  /**
   * Transactions in flight at once; arrivals meanwhile wait and go together in the next one. One at
   * a time gathers the largest batches, and a batch costs four round trips whatever its size: on
   * PostgreSQL, one in flight took 32 connections from 3,300 to 3,800-4,100 requests/s against two
   * (bench/intake.ts). A further one starts only when a backlog of `BACKLOG` intakes has built up
   * behind those in flight (a slow commit), so one stalled transaction does not hold every sender.
   * PGlite is one connection that runs on this thread: a second flush would only start a tiny batch.
   */
  readonly #maxInFlight: number;
  static readonly BACKLOG = 64;

  constructor(ctx: PipelineContext) {
    this.#ctx = ctx;
    this.#maxInFlight = ctx.database.kind === 'pglite' ? 1 : 4;
  }

  store(intake: Intake): Promise<{ intakeId: string }> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...intake, intakeId: randomUUID(), resolve, reject });
      // Start on the next turn of the event loop, so requests already read in this one join the
      // batch: PGlite's queries resolve as microtasks and would otherwise never let them in.
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#drain();
        });
      }
    });
  }

  #drain(): void {
    while (
      this.#pending.length > 0 &&
      (this.#inFlight === 0 || (this.#inFlight < this.#maxInFlight && this.#pending.length >= RawStore.BACKLOG))
    ) {
      const batch = this.#pending;
      this.#pending = [];
      this.#inFlight++;
      // #settle never rejects: it settles every caller itself.
      void this.#settle(batch).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  /**
   * Writes a batch and settles each caller. A batch that fails for a reason other than the database
   * being unreachable is written again one intake at a time, so a request's fault (a value the
   * database refuses) is its own 500, never its neighbours'.
   */
  async #settle(batch: Pending[]): Promise<void> {
    try {
      const replayed = await this.#write(batch);
      for (const p of batch) {
        if (replayed.has(p)) p.reject(new ApiError('webhook_replayed', 'this signed delivery was received before'));
        else p.resolve({ intakeId: p.intakeId });
      }
    } catch (error) {
      if (batch.length === 1 || isTransient(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      for (const p of batch) await this.#settle([p]);
    }
  }

  /** Writes a batch in one transaction; returns the intakes refused as replays. */
  async #write(batch: Pending[]): Promise<Set<Pending>> {
    const size = this.#ctx.settings.ingestBatchSize;
    return this.#ctx.database.db.transaction(async (tx) => {
      // Receipts commit with the records they admit: a delivery that failed to store can come again.
      const replayed = new Set<Pending>();
      const signed = batch.filter((p) => p.receipt !== undefined);
      if (signed.length > 0) {
        const fresh = new Set(
          rowsOf<{ source: string; receipt: string }>(
            await tx.execute(sql`
              insert into webhook_receipts (source, receipt)
              select * from unnest(${textArray(signed.map((p) => p.source))}, ${textArray(signed.map((p) => p.receipt as string))})
              on conflict do nothing
              returning source, receipt`),
          ).map((r) => `${r.source}\u0000${r.receipt}`),
        );
        for (const p of signed) {
          // The first of two identical deliveries in one batch takes the receipt; the second is a replay.
          if (!fresh.delete(`${p.source}\u0000${p.receipt}`)) replayed.add(p);
        }
      }
      if (signed.length > 0 && Date.now() - this.#prunedAt > PRUNE_EVERY_MS) {
        this.#prunedAt = Date.now();
        await tx.execute(sql`delete from webhook_receipts where received_at < now() - interval '1 day'`);
      }
      const rows = batch.filter((p) => !replayed.has(p)).flatMap((p) => p.records.map((record) => ({ p, record })));
      if (rows.length === 0) return replayed;
      const insert = () =>
        insertRawRecords(
          tx,
          rows.map((r) => ({
            source: r.p.source,
            intakeId: r.p.intakeId,
            bodyHash: r.p.bodyHash,
            record: r.record,
            ...(r.p.body ? { originalBody: r.p.body } : {}),
          })),
        );
      if (!rows.some((r) => r.p.hydrate)) {
        // Jobs named by intake id need nothing back from the insert, so both statements go to the
        // server in one write and return in one round trip (postgres.js pipelines them).
        const intakes = batch.filter((p) => !replayed.has(p));
        await Promise.all([insert(), this.#ctx.boss.insert(QUEUES.ingest, intakeJobs(intakes, size), { db: txAdapter(tx) })]);
        return replayed;
      }
      const rawIds = await insert();
      const toIngest = rawIds.filter((_, i) => !rows[i]?.p.hydrate);
      if (toIngest.length > 0) await this.#ctx.boss.insert(QUEUES.ingest, ingestJobs(toIngest, size), { db: txAdapter(tx) });
      const toHydrate = rawIds.filter((_, i) => rows[i]?.p.hydrate);
      if (toHydrate.length > 0) {
        await this.#ctx.boss.insert(QUEUES.hydrate, ingestJobs(toHydrate, size), { db: txAdapter(tx) });
      }
      return replayed;
    });
  }
}

/** Ingest jobs naming intakes, about `size` records a job (an intake larger than that alone). */
function intakeJobs(intakes: readonly Pending[], size: number): { data: IngestJob }[] {
  const jobs: { data: IngestJob }[] = [];
  let current: string[] = [];
  let records = 0;
  for (const p of intakes) {
    if (current.length > 0 && records + p.records.length > size) {
      jobs.push({ data: { rawIds: [], intakeIds: current } });
      current = [];
      records = 0;
    }
    current.push(p.intakeId);
    records += p.records.length;
  }
  if (current.length > 0) jobs.push({ data: { rawIds: [], intakeIds: current } });
  return jobs;
}

export interface RawRow {
  source: string;
  intakeId: string;
  bodyHash: string;
  record: unknown;
  contentHash?: string;
  /** The bytes the record arrived as; stored only if the payload cannot be them (see below). */
  originalBody?: Uint8Array;
  /** The caller already replaced what jsonb cannot hold in `record` (record-limits `replaced`). */
  replaced?: boolean;
}

/**
 * Stores records exactly as received (append-only), in order; returns their raw ids. Valid JSON that
 * jsonb refuses (`\u0000`, lone surrogates) is stored with U+FFFD in place and its exact bytes in
 * `original_body`, so nothing that arrived is lost and the record is still processed (and flagged).
 */
export async function insertRawRecords(tx: Tx, rows: readonly RawRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const payloads: string[] = [];
  const originals: (string | null)[] = [];
  for (const r of rows) {
    const json = JSON.stringify(r.record);
    if (!r.replaced && !hasUnstorableEscape(json)) {
      payloads.push(json);
      originals.push(null);
      continue;
    }
    payloads.push(JSON.stringify(toStorable(r.record).value));
    originals.push(Buffer.from(r.originalBody ?? Buffer.from(json)).toString('hex'));
  }
  return rowsOf<{ id: string | number }>(
    await tx.execute(sql`
      insert into raw_records (source, intake_id, body_hash, content_hash, payload, original_body)
      select s, i::uuid, b, h, p, decode(o, 'hex')
      from unnest(${textArray(rows.map((r) => r.source))}, ${textArray(rows.map((r) => r.intakeId))},
        ${textArray(rows.map((r) => r.bodyHash))}, ${textArray(rows.map((r) => r.contentHash ?? contentHash(r.record)))},
        ${sql.param(payloads)}::jsonb[], ${sql.param(originals)}::text[]) with ordinality as r(s, i, b, h, p, o, n)
      order by n
      returning id`),
  ).map((r) => Number(r.id));
}
