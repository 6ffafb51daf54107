import { createHash, randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { stringify } from 'safe-stable-stringify';
import { type Queryable, type Raw, rowsOf, type Tx } from '../db/database.ts';
import type { intakeOutbox, rawRecords } from '../db/schema.ts';
import { bigintArray, isTransient, textArray, uuidArray } from '../db/sql.ts';
import { ApiError } from '../http/errors.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { hasUnstorableEscape, toStorable } from './record-limits.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
/** sha256 of a record's canonical JSON: equal content, equal hash, whatever the key order. */
export const contentHash = (record: unknown): string => sha256(stringify(record) ?? 'null');

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
 * Stores records exactly as received (append-only) and queues their processing in the same
 * statement. Concurrent requests share that statement (group commit): one insert per batch instead
 * of per request. A caller's promise settles only once its records are committed, so a 202 still
 * means nothing can be lost.
 *
 * The queue they are written to is `intake_outbox`, which the dispatcher (`dispatch.ts`) turns into
 * pg-boss jobs. One statement, with no transaction around it, is one round trip; a transaction
 * that also inserted the pg-boss jobs took four, and their planning: on PostgreSQL it held intake
 * to 0.7–0.9 of a bare server doing one INSERT a request, and one statement took it to 1.3–1.5
 * (bench/intake.ts, 32 connections).
 */
export class RawStore {
  readonly #ctx: PipelineContext;
  #pending: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  /**
   * Statements in flight at once; arrivals meanwhile wait and go together in the next one. One at
   * a time gathers the largest batches; a further one starts only when a backlog of `BACKLOG`
   * intakes has built up behind those in flight (a slow commit), so one stalled statement does not
   * hold every sender. PGlite is one connection that runs on this thread: a second statement would
   * only start a tiny batch.
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
    let admitted: Set<string>;
    try {
      admitted = await storeIntakes(this.#ctx.database.db, batch);
    } catch (error) {
      if (batch.length === 1 || isTransient(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      for (const p of batch) await this.#settle([p]);
      return;
    }
    if (admitted.size > 0) this.#ctx.intakeQueued();
    for (const p of batch) {
      if (admitted.has(p.intakeId)) p.resolve({ intakeId: p.intakeId });
      else p.reject(new ApiError('webhook_replayed', 'this signed delivery was received before'));
    }
  }
}

/**
 * One statement that takes each signed intake's receipt, stores the records of every intake
 * admitted and queues them in `intake_outbox`; returns the intakes admitted. A receipt already held
 * is a replay: its intake is refused, and so is the second of two identical deliveries in one batch
 * (`on conflict do nothing` lets the first row of a key in and skips the rest). Receipts commit
 * with the records they admit, so a delivery that failed to store can come again.
 */
async function storeIntakes(db: Queryable, batch: readonly Pending[]): Promise<Set<string>> {
  const rows = batch.flatMap((p) =>
    p.records.map((record) => ({
      source: p.source,
      intakeId: p.intakeId,
      bodyHash: p.bodyHash,
      record,
      ...(p.body ? { originalBody: p.body } : {}),
    })),
  );
  const signed = batch.some((p) => p.receipt !== undefined);
  // Counts and flags are bound as text arrays: postgres.js binds a JS array of numbers or booleans
  // as a scalar of their type, which PostgreSQL will not cast to an array.
  const intakes = sql`unnest(${uuidArray(batch.map((p) => p.intakeId))}, ${textArray(batch.map((p) => p.source))},
    ${sql.param(batch.map((p) => p.receipt ?? null))}::text[], ${textArray(batch.map((p) => String(p.records.length)))}::int[],
    ${textArray(batch.map((p) => String(p.hydrate === true)))}::bool[]) with ordinality as i(intake_id, source, receipt, records, hydrate, n)`;
  // Unsigned batches (most) skip the receipt lookup; the plan is then two plain inserts.
  const admitted = signed
    ? sql`fresh as (
          insert into webhook_receipts (source, receipt)
          select source, receipt from ${intakes} where receipt is not null order by n
          on conflict do nothing
          returning source, receipt),
        admitted as (
          select i.* from ${intakes} where i.receipt is null
          union all
          (select distinct on (i.source, i.receipt) i.* from ${intakes} join fresh f on f.source = i.source and f.receipt = i.receipt
           order by i.source, i.receipt, i.n))`
    : sql`admitted as (select i.* from ${intakes})`;
  return new Set(
    rowsOf<Pick<typeof intakeOutbox.$inferSelect, 'intakeId'>>(
      await db.execute(sql`
        with ${admitted},
        raw as (
          insert into raw_records (source, intake_id, body_hash, content_hash, payload, original_body)
          ${rawRowsSelect(rows, signed ? sql`i::uuid in (select intake_id from admitted)` : undefined)}),
        queued as (
          insert into intake_outbox (intake_id, records, hydrate) select intake_id, records, hydrate from admitted order by n)
        select intake_id::text as "intakeId" from admitted`),
    ).map((r) => r.intakeId),
  );
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
export async function insertRawRecords(tx: Queryable, rows: readonly RawRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  return rowsOf<Raw<Pick<typeof rawRecords.$inferSelect, 'id'>>>(
    await tx.execute(sql`
      insert into raw_records (source, intake_id, body_hash, content_hash, payload, original_body)
      ${rawRowsSelect(rows)}
      returning id`),
  ).map((r) => Number(r.id));
}

/** The rows to insert into raw_records, in order, as one select over array parameters; `where` may narrow them. */
function rawRowsSelect(rows: readonly RawRow[], where?: SQL): SQL {
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
  return sql`
    select s, i::uuid, b, h, p, decode(o, 'hex')
    from unnest(${textArray(rows.map((r) => r.source))}, ${textArray(rows.map((r) => r.intakeId))},
      ${textArray(rows.map((r) => r.bodyHash))}, ${textArray(rows.map((r) => r.contentHash ?? contentHash(r.record)))},
      ${sql.param(payloads)}::jsonb[], ${sql.param(originals)}::text[]) with ordinality as r(s, i, b, h, p, o, n)
    ${where ? sql`where ${where}` : sql``}
    order by n`;
}

/** An erased person's raw records: payload and original body emptied, the row kept so ids and counts still add up. */
export async function emptyRawRecords(tx: Tx, rawIds: readonly number[]): Promise<void> {
  await tx.execute(sql`
    update raw_records set payload = '{}'::jsonb, original_body = null, erased_at = now() where id = any(${bigintArray(rawIds)})`);
}

/** A raw record as the stages after intake read it. */
export type StoredRaw = Pick<typeof rawRecords.$inferSelect, 'id' | 'source' | 'receivedAt' | 'contentHash' | 'payload'> & {
  /** The payload holds U+FFFD where the bytes received held what jsonb cannot (see `insertRawRecords`). */
  replaced: boolean;
};

const STORED_RAW = sql`id, source, received_at as "receivedAt", content_hash as "contentHash", payload,
  original_body is not null as replaced`;
const storedRaw = (r: Raw<StoredRaw>): StoredRaw => ({ ...r, id: Number(r.id), receivedAt: new Date(r.receivedAt) });

/** The raw records of `rawIds` and of the intakes `intakeIds`, in the order they arrived. */
export async function readRawRecords(db: Queryable, rawIds: readonly number[], intakeIds: readonly string[] = []): Promise<StoredRaw[]> {
  return rowsOf<Raw<StoredRaw>>(
    await db.execute(sql`
      select ${STORED_RAW}
      from raw_records where id = any(${bigintArray(rawIds)}) or intake_id = any(${uuidArray(intakeIds)}) order by id`),
  ).map(storedRaw);
}

/**
 * Raw records not erased whose payload holds one of `texts` anywhere in its JSON text (ignoring case),
 * or one of `digits` among its digits (a phone number as typed: `07400 123456`); of the `sources`, or
 * among the ids a subquery of their owner gives (`rawIdsIn`); none of `except`. In no particular order.
 */
export async function rawRecordsHolding(
  db: Queryable,
  scope: { sources: readonly string[] } | { rawIdsIn: SQL },
  holding: { texts: readonly string[]; digits: readonly string[] },
  except: readonly number[],
): Promise<StoredRaw[]> {
  if ('sources' in scope && scope.sources.length === 0) return [];
  const patterns = textArray([...new Set(holding.texts)].map((v) => `%${likeEscape(v)}%`));
  const digits = textArray([...new Set(holding.digits)].map((d) => `%${d}%`));
  return rowsOf<Raw<StoredRaw>>(
    await db.execute(sql`
      select ${STORED_RAW}
      from raw_records
      where erased_at is null and ${'sources' in scope ? sql`source = any(${textArray(scope.sources)})` : sql`id in (${scope.rawIdsIn})`}
        and (payload::text ilike any(${patterns}) or regexp_replace(payload::text, '[^0-9]', '', 'g') like any(${digits}))
        and id <> all(${bigintArray(except)})`),
  ).map(storedRaw);
}

const likeEscape = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The raw record `rawId` (an SQL expression of the caller's statement) as a reader shows it: when it
 * arrived and its payload. A subquery to join laterally, for a statement that must total payload
 * sizes before any payload leaves the database (the quarantine's page).
 */
export const rawRecordOf = (rawId: SQL): SQL => sql`(select received_at as "receivedAt", payload from raw_records where id = ${rawId})`;

/**
 * Refreshes the planner's statistics of the raw store: a large import outruns autovacuum's, and the
 * pipeline's queries plan on them next.
 */
export async function analyzeRawRecords(db: Queryable): Promise<void> {
  await db.execute(sql`analyze raw_records`);
}
