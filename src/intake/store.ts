import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { stringify } from 'safe-stable-stringify';
import { rowsOf } from '../db/database.ts';
import { textArray } from '../db/sql.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { QUEUES, txAdapter } from '../queue/queues.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Stores records exactly as received (append-only) and enqueues their processing in the same
 * transaction: once this returns, nothing that arrived can be lost.
 */
export async function storeRawRecords(
  ctx: PipelineContext,
  input: { source: string; records: readonly unknown[]; bodyHash: string },
): Promise<{ intakeId: string; rawIds: number[] }> {
  const intakeId = randomUUID();
  if (input.records.length === 0) return { intakeId, rawIds: [] };
  const payloads = input.records.map((r) => JSON.stringify(r));
  const contentHashes = input.records.map((r) => sha256(stringify(r) ?? 'null'));
  const batchSize = ctx.settings.ingestBatchSize;
  return ctx.database.db.transaction(async (tx) => {
    const rawIds = rowsOf<{ id: string | number }>(
      await tx.execute(sql`
        insert into raw_records (source, intake_id, body_hash, content_hash, payload)
        select ${input.source}, ${intakeId}, ${input.bodyHash}, h, p
        from unnest(${textArray(contentHashes)}, ${sql.param(payloads)}::jsonb[]) with ordinality as r(h, p, n)
        order by n
        returning id`),
    ).map((r) => Number(r.id));
    const jobs = [];
    for (let i = 0; i < rawIds.length; i += batchSize) jobs.push({ data: { rawIds: rawIds.slice(i, i + batchSize) } });
    await ctx.boss.insert(QUEUES.ingest, jobs, { db: txAdapter(tx) });
    return { intakeId, rawIds };
  });
}
