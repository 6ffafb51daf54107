import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type RawRow, rowsOf } from '../../db/database.ts';
import type { rawRecords } from '../../db/schema.ts';
import { bigintArray } from '../../db/sql.ts';
import { insertRawRecords, sha256 } from '../../intake/store.ts';
import { quarantineFetchFailed, resolveFetchFailed } from '../../mapping/quarantine-store.ts';
import type { PipelineContext } from '../../pipeline-context.ts';
import { enqueue, ingestJobs } from '../../queue/catalog.ts';
import { VendorHttpError } from '../http/client.ts';
import { connectorTypes } from '../registry.ts';
import { sourceClient } from './run.ts';

/**
 * Fetches the objects that stored webhook records name (`ConnectorType.hydrate`), stores them as
 * raw records of the same source and queues them for ingest. A failure throws: pg-boss retries the
 * job with backoff, and the webhook records wait, stored.
 */
export async function hydrate(ctx: PipelineContext, rawIds: readonly number[]): Promise<number> {
  const raws = rowsOf<RawRow<typeof rawRecords, 'id' | 'source' | 'payload'>>(
    await ctx.database.db.execute(sql`select id, source, payload from raw_records where id = any(${bigintArray(rawIds)}) order by id`),
  );
  let stored = 0;
  for (const name of new Set(raws.map((r) => r.source))) {
    const source = ctx.workspace().sources.get(name);
    const connector = source && connectorTypes.get(source.type);
    if (!source || !connector?.hydrate) continue;
    const mine = raws.filter((r) => r.source === name);
    let objects: unknown[];
    try {
      objects = await connector.hydrate(
        source.config as never,
        mine.map((r) => r.payload),
        {
          startedAt: new Date(),
          client: sourceClient(source),
        },
      );
    } catch (error) {
      // A vendor that is down is retried (the job fails and pg-boss backs off); credentials that
      // are missing or refused will not fix themselves: quarantine, visible and replayable.
      const permanent = !(error instanceof VendorHttpError) || error.kind === 'auth' || error.kind === 'client';
      if (!permanent) throw error;
      await quarantineFetchFailed(
        ctx.database.db,
        name,
        mine.map((r) => Number(r.id)),
        (error as Error).message,
      );
      ctx.log.warn({ source: name, records: mine.length, code: 'fetch_failed' }, 'webhook objects not fetched');
      continue;
    }
    const intakeId = randomUUID();
    await ctx.database.db.transaction(async (tx) => {
      // Fetched now: earlier failures to fetch these are resolved.
      await resolveFetchFailed(
        tx,
        mine.map((r) => Number(r.id)),
      );
      const ids = await insertRawRecords(
        tx,
        objects.map((record) => ({ source: name, intakeId, bodyHash: sha256(JSON.stringify(record)), record })),
      );
      if (ids.length > 0) await enqueue(ctx.boss, tx, 'ingest', ingestJobs(ids, ctx.settings.ingestBatchSize));
    });
    stored += objects.length;
  }
  return stored;
}
