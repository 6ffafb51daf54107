import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { stringify } from 'safe-stable-stringify';
import { rowsOf } from '../db/database.ts';
import { textArray } from '../db/sql.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { ingestJobs, QUEUES, txAdapter } from '../queue/queues.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export interface Intake {
  source: string;
  records: readonly unknown[];
  bodyHash: string;
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
  /**
   * Transactions in flight at once; arrivals meanwhile wait and go together in the next one.
   * PGlite is one connection that runs on this thread: a second flush would only start a tiny batch.
   */
  readonly #maxInFlight: number;

  constructor(ctx: PipelineContext) {
    this.#ctx = ctx;
    this.#maxInFlight = ctx.database.kind === 'pglite' ? 1 : 2;
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
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      this.#inFlight++;
      this.#write(batch)
        .then(
          () => {
            for (const p of batch) p.resolve({ intakeId: p.intakeId });
          },
          (error: unknown) => {
            for (const p of batch) p.reject(error);
          },
        )
        .finally(() => {
          this.#inFlight--;
          this.#drain();
        });
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    const rows = batch.flatMap((p) => p.records.map((record) => ({ p, record })));
    if (rows.length === 0) return;
    const size = this.#ctx.settings.ingestBatchSize;
    await this.#ctx.database.db.transaction(async (tx) => {
      const rawIds = rowsOf<{ id: string | number }>(
        await tx.execute(sql`
          insert into raw_records (source, intake_id, body_hash, content_hash, payload)
          select s, i::uuid, b, h, p
          from unnest(${textArray(rows.map((r) => r.p.source))}, ${textArray(rows.map((r) => r.p.intakeId))},
            ${textArray(rows.map((r) => r.p.bodyHash))}, ${textArray(rows.map((r) => sha256(stringify(r.record) ?? 'null')))},
            ${sql.param(rows.map((r) => JSON.stringify(r.record)))}::jsonb[]) with ordinality as r(s, i, b, h, p, n)
          order by n
          returning id`),
      ).map((r) => Number(r.id));
      await this.#ctx.boss.insert(QUEUES.ingest, ingestJobs(rawIds, size), { db: txAdapter(tx) });
    });
  }
}
