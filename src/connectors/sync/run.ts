import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf } from '../../db/database.ts';
import { sourceCursors, type syncRuns } from '../../db/schema.ts';
import { textArray } from '../../db/sql.ts';
import { insertRawRecords, sha256 } from '../../intake/store.ts';
import type { PipelineContext } from '../../pipeline-context.ts';
import { enqueue, ingestJobs } from '../../queue/catalog.ts';
import type { Source } from '../../workspace/workspace.ts';
import { ApiClient, type ApiClientOptions, VendorHttpError } from '../http/client.ts';
import { connectorTypes } from '../registry.ts';
import type { SyncCursor } from '../types.ts';

/** A sync job: one source, from its cursor or (`full`) from the beginning. */
export interface SyncJob {
  source: string;
  full?: boolean;
  /** Set when the run was asked for through the API, which created its row. */
  runId?: number;
}

/** Why a run failed, by stable code. */
export const SYNC_ERRORS = {
  auth_failed: 'the vendor refused the credentials (expired or revoked token?): fix them, then sync again',
  vendor_rejected: 'the vendor refused a request',
  vendor_unavailable: 'the vendor kept failing (429 or 5xx) after every retry',
  not_pullable: 'this type of source is not pulled',
  unknown_source: 'the source is no longer in the workspace',
  interrupted: 'the process running the sync stopped; the next run resumes from the saved cursor',
  sync_failed: 'the sync failed',
} as const;

function failureOf(error: unknown): { code: keyof typeof SYNC_ERRORS; message: string } {
  if (error instanceof VendorHttpError) {
    const code = error.kind === 'auth' ? 'auth_failed' : error.kind === 'client' ? 'vendor_rejected' : 'vendor_unavailable';
    return { code, message: `${SYNC_ERRORS[code]}: ${error.message}` };
  }
  return { code: 'sync_failed', message: (error as Error)?.message ?? String(error) };
}

/** Marks a source's runs in `statuses` as interrupted: the process running them is gone. */
export async function markInterrupted(db: Queryable, source: string, statuses: readonly ('queued' | 'running')[]): Promise<void> {
  await db.execute(sql`
    update sync_runs set status = 'failed', finished_at = now(),
      error = ${JSON.stringify({ code: 'interrupted', message: SYNC_ERRORS.interrupted })}::jsonb
    where source = ${source} and status = any(${textArray(statuses)})`);
}

/** The API clients of a source: its `rateLimit`, whoever pulls or fetches for it. */
export function sourceClient(source: Source): (options: Pick<ApiClientOptions, 'baseUrl' | 'headers'>) => ApiClient {
  return (options) => new ApiClient({ ...options, ...(source.rateLimit ? { rateLimit: source.rateLimit } : {}) });
}

/**
 * Runs one sync: pages from the connector's `pull`, each page's records stored and queued for
 * ingest in the transaction that saves the cursor, so a crash loses nothing and repeats nothing.
 * Failures end the run (visible in `GET /sources/:source/runs`); an auth failure is not retried,
 * and the next run starts from the cursor saved.
 */
export async function runSync(ctx: PipelineContext, job: SyncJob): Promise<void> {
  const db = ctx.database.db;
  // A run left "running" by a process that died is over: say so before starting another.
  await markInterrupted(db, job.source, ['running']);
  const [cursorRow] = await db.select({ cursor: sourceCursors.cursor }).from(sourceCursors).where(eq(sourceCursors.source, job.source));
  // Saved from a page's cursor, as its connector made it.
  const cursor = job.full ? null : ((cursorRow?.cursor as SyncCursor | undefined) ?? null);
  const [run] = rowsOf<RawRow<typeof syncRuns, 'id'>>(
    job.runId
      ? await db.execute(sql`
          update sync_runs set status = 'running', started_at = now(), cursor_from = ${JSON.stringify(cursor)}::jsonb
          where id = ${job.runId} returning id`)
      : await db.execute(sql`
          insert into sync_runs (source, full_sync, trigger, status, started_at, cursor_from)
          values (${job.source}, ${job.full ?? false}, 'schedule', 'running', now(), ${JSON.stringify(cursor)}::jsonb)
          on conflict do nothing returning id`),
  );
  // A run asked for through the API holds the source: this scheduled one has nothing to do.
  if (!run) return;
  const runId = Number(run.id);
  const clients: ApiClient[] = [];
  const requests = () => clients.reduce((n, c) => n + c.requests, 0);
  const finish = async (error?: { code: string; message: string }) => {
    await db.execute(sql`
      update sync_runs set status = ${error ? 'failed' : 'succeeded'}, finished_at = now(), requests = ${requests()},
        error = ${error ? JSON.stringify(error) : null}::jsonb
      where id = ${runId}`);
    if (error) ctx.log.warn({ source: job.source, runId, code: error.code }, 'sync failed');
    else ctx.log.info({ source: job.source, runId }, 'sync finished');
  };

  const source = ctx.workspace().sources.get(job.source);
  if (!source) return finish({ code: 'unknown_source', message: SYNC_ERRORS.unknown_source });
  const connector = connectorTypes.get(source.type);
  if (!connector?.pull) return finish({ code: 'not_pullable', message: `${SYNC_ERRORS.not_pullable} (${source.type})` });

  const intakeId = randomUUID();
  const clientOf = sourceClient(source);
  try {
    const pages = connector.pull(source.config as never, {
      cursor,
      startedAt: new Date(),
      client: (options) => {
        const client = clientOf(options);
        clients.push(client);
        return client;
      },
    });
    for await (const page of pages) {
      await db.transaction(async (tx) => {
        const rawIds = await insertRawRecords(
          tx,
          page.records.map((record) => ({ source: job.source, intakeId, bodyHash: sha256(JSON.stringify(record)), record })),
        );
        if (rawIds.length > 0) await enqueue(ctx.boss, tx, 'ingest', ingestJobs(rawIds, ctx.settings.ingestBatchSize));
        await tx.execute(sql`
          insert into source_cursors (source, cursor) values (${job.source}, ${JSON.stringify(page.cursor)}::jsonb)
          on conflict (source) do update set cursor = excluded.cursor, updated_at = now()`);
        await tx.execute(sql`
          update sync_runs set pages = pages + 1, records = records + ${page.records.length}, requests = ${requests()},
            cursor_to = ${JSON.stringify(page.cursor)}::jsonb
          where id = ${runId}`);
      });
    }
    await finish();
  } catch (error) {
    await finish(failureOf(error));
  }
}
