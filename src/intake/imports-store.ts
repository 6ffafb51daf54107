import { eq, type SQL, sql } from 'drizzle-orm';
import type { FileFormat, FileRecord, ImportProblem } from '../connectors/file/file-records.ts';
import { type Db, rowsOf, type Tx } from '../db/database.ts';
import { imports } from '../db/schema.ts';
import { isTransient, isUuid, textArray } from '../db/sql.ts';
import { afterTime, microsOf, type TimePosition, timePage } from '../http/keyset.ts';
import { safeError } from '../log/log.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue, ingestJobs } from '../queue/catalog.ts';
import { insertRawRecords } from './store.ts';

/** How often a process receiving a file says it is alive, besides each stored batch (a slow sender may take longer than that for a batch). */
export const IMPORT_HEARTBEAT_MS = 5_000;
/**
 * A `receiving` import silent this long lost its process: read as `interrupted`. Twelve missed
 * heartbeats: a live process on a loaded database is late by seconds, not a minute.
 */
export const IMPORT_STALE_MS = 60_000;
/** `GET /imports/:id` counts open quarantine entries up to here, so it answers in bounded time whatever the quarantine holds. */
export const QUARANTINE_COUNT_CAP = 10_000;

export type ImportStatus = 'receiving' | 'received' | 'done' | 'failed' | 'interrupted';

export async function createImport(db: Db, row: { id: string; source: string; format: FileFormat; createdBy: string }) {
  await db.execute(sql`
    insert into imports (id, source, format, status, created_by)
    values (${row.id}, ${row.source}, ${row.format}, 'receiving', ${row.createdBy})`);
}

/** The import's last sign of life; also set by every stored batch. */
export async function beat(db: Db, id: string) {
  await db.execute(sql`update imports set heartbeat_at = now() where id = ${id} and status = 'receiving'`);
}

/** What the import knows of the file so far, written with each batch and at the end. */
export interface Tally {
  bytes: number;
  rejected: number;
  problems: ImportProblem[];
}

export async function finishImport(db: Db, id: string, status: 'received' | 'failed', tally: Tally) {
  // From `interrupted` too: a process that was only slow (a stalled database) finishes its import after all.
  await db.execute(sql`
    update imports set status = ${status}, finished_at = now(), heartbeat_at = now(), bytes = ${tally.bytes},
      rejected = ${tally.rejected}, problems = ${JSON.stringify(tally.problems)}::jsonb
    where id = ${id}`);
}

export type Staged = FileRecord & { hash: string };

/**
 * Stores a batch of an import's records in one transaction with their ingest jobs and the counts.
 * A batch the database refuses is split in halves until the one record at fault is left: it is
 * reported to `refused` by line (the error's code is logged, never its text: PostgreSQL quotes the
 * values it refuses) and the rest are stored. An unreachable database is not the records' fault: thrown.
 */
export async function storeImportBatch(
  ctx: PipelineContext,
  target: { id: string; source: string },
  rows: readonly Staged[],
  tally: () => Tally,
  refused: (line: number) => void,
): Promise<void> {
  if (rows.length === 0) return;
  try {
    await writeBatch(ctx, target, rows, tally());
  } catch (error) {
    if (isTransient(error)) throw error;
    if (rows.length === 1) {
      const row = rows[0] as Staged;
      ctx.log.warn({ import: target.id, line: row.line, error: { code: safeError(error).code } }, 'import record refused by the database');
      refused(row.line);
      return;
    }
    const half = Math.ceil(rows.length / 2);
    await storeImportBatch(ctx, target, rows.slice(0, half), tally, refused);
    await storeImportBatch(ctx, target, rows.slice(half), tally, refused);
  }
}

async function writeBatch(ctx: PipelineContext, target: { id: string; source: string }, rows: readonly Staged[], tally: Tally) {
  await ctx.database.db.transaction(async (tx) => {
    // A record the source already holds, with the same content, is a duplicate: counted, not stored again.
    // One index probe per hash on (source, content_hash), forced by the lateral LIMIT 1. As a
    // plain `content_hash = any($2)` or a join, the planner, with statistics a fast-growing
    // import has outrun, read all of the source's rows by (source, id) and filtered or sorted
    // them: half a second to a second a batch past 500k rows, 7 ms this way.
    const held = new Set(
      rowsOf<{ hash: string }>(
        await tx.execute(sql`
          select h.hash from unnest(${textArray(rows.map((r) => r.hash))}) as h(hash)
          cross join lateral (select 1 from raw_records r where r.source = ${target.source} and r.content_hash = h.hash limit 1) held`),
      ).map((r) => r.hash),
    );
    const fresh: Staged[] = [];
    for (const row of rows) {
      if (held.has(row.hash)) continue;
      held.add(row.hash);
      fresh.push(row);
    }
    const rawIds = await insertRawRecords(
      tx,
      fresh.map((r) => ({
        source: target.source,
        intakeId: target.id,
        bodyHash: target.id,
        record: r.record,
        contentHash: r.hash,
        ...(r.originalBody ? { originalBody: r.originalBody, replaced: true } : {}),
      })),
    );
    if (rawIds.length > 0) {
      await enqueue(ctx.boss, tx, 'ingest', ingestJobs(rawIds, ctx.settings.ingestBatchSize, target.id));
    }
    const first = rawIds.length > 0 ? Math.min(...rawIds) : null;
    const last = rawIds.length > 0 ? Math.max(...rawIds) : null;
    await tx.execute(sql`
      update imports set accepted = accepted + ${fresh.length}, duplicates = duplicates + ${rows.length - fresh.length},
        rejected = ${tally.rejected}, problems = ${JSON.stringify(tally.problems)}::jsonb, bytes = ${tally.bytes},
        heartbeat_at = now(),
        first_raw_id = coalesce(first_raw_id, ${first}::bigint), last_raw_id = greatest(last_raw_id, ${last}::bigint)
      where id = ${target.id}`);
  });
}

type ImportRow = typeof imports.$inferSelect;

export interface ImportView {
  id: string;
  source: string;
  format: string;
  status: ImportStatus;
  bytes: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  problems: ImportProblem[];
  processed: number;
  /** Open quarantine entries of the import's records, counted up to `QUARANTINE_COUNT_CAP`. */
  quarantined: number;
  /** The count stopped at the cap: there are more. */
  quarantinedCapped: boolean;
  /** Share of the accepted records the pipeline has mapped or quarantined. */
  progress: number;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  heartbeatAt: string;
}

/**
 * An import as it stands. Two states are decided here, on read, from what the row says: `done`
 * once the pipeline has processed every stored record of a received file (the ingest stage counts
 * `processed`), and `interrupted` for a `receiving` import whose heartbeat is older than `IMPORT_STALE_MS`.
 */
export async function loadImport(db: Db, id: string, countQuarantined: QuarantineCounter): Promise<ImportView | undefined> {
  if (!isUuid(id)) return undefined;
  await db.execute(sql`
    update imports
    set status = case when status = 'receiving' then 'interrupted' else 'done' end,
      finished_at = case when status = 'receiving' then heartbeat_at else finished_at end
    where id = ${id}
      and ((status = 'received' and processed >= accepted)
        or (status = 'receiving' and heartbeat_at < now() - make_interval(secs => ${IMPORT_STALE_MS / 1000})))`);
  const [row] = await db.select().from(imports).where(eq(imports.id, id));
  if (!row) return undefined;
  const imp = { ...row, status: row.status as ImportStatus, problems: row.problems as ImportProblem[] };
  const quarantined =
    imp.firstRawId === null || imp.lastRawId === null
      ? 0
      : await countQuarantined({ id: imp.id, firstRawId: imp.firstRawId, lastRawId: imp.lastRawId });
  return {
    id: imp.id,
    source: imp.source,
    format: imp.format,
    status: imp.status,
    bytes: imp.bytes,
    accepted: imp.accepted,
    duplicates: imp.duplicates,
    rejected: imp.rejected,
    problems: imp.problems,
    processed: imp.processed,
    quarantined: Math.min(quarantined, QUARANTINE_COUNT_CAP),
    quarantinedCapped: quarantined > QUARANTINE_COUNT_CAP,
    progress: imp.accepted === 0 ? (imp.status === 'receiving' ? 0 : 1) : Math.min(imp.processed / imp.accepted, 1),
    createdBy: imp.createdBy,
    createdAt: imp.createdAt.toISOString(),
    finishedAt: imp.finishedAt ? imp.finishedAt.toISOString() : null,
    heartbeatAt: imp.heartbeatAt.toISOString(),
  };
}

/**
 * The newest imports first, of one source or all. Lists the imports whose process died too: their
 * `POST` never answered, so the list is where their id is found.
 */
export async function listImports(
  db: Db,
  options: { source?: string; limit: number; after?: TimePosition },
  countQuarantined: QuarantineCounter,
): Promise<{ imports: ImportView[]; next: string | null }> {
  const { rows, next } = timePage(
    rowsOf<Pick<ImportRow, 'id'> & { cursor_micros: string | number }>(
      await db.execute(sql`
      select id, ${microsOf(sql`created_at`)} as cursor_micros from imports
      where true ${options.source === undefined ? sql`` : sql`and source = ${options.source}`}
        ${afterTime(sql`created_at`, sql`id`, options.after)}
      order by created_at desc, id limit ${options.limit + 1}`),
    ),
    options.limit,
  );
  const views: ImportView[] = [];
  for (const { id } of rows) {
    const view = await loadImport(db, id, countQuarantined);
    if (view) views.push(view);
  }
  return { imports: views, next };
}

/** Where an import's stored records lie: between its first and last raw id, stored by its intake. */
export interface ImportRange {
  id: string;
  firstRawId: number;
  lastRawId: number;
}

/**
 * The raw ids of an import's records, as a subquery over raw_records to join: those of its id range
 * that its intake stored (other sources' records may arrive in between).
 */
export const rawIdsOfImport = (imp: ImportRange): SQL =>
  sql`(select id from raw_records where id between ${imp.firstRawId} and ${imp.lastRawId} and intake_id = ${imp.id})`;

/**
 * Counts the raw records of an import with an open quarantine entry, up to one past
 * `QUARANTINE_COUNT_CAP`. The quarantine is mapping's table: the caller (the import route) passes
 * mapping's count, which intake, below mapping, cannot call.
 */
export type QuarantineCounter = (imp: ImportRange) => Promise<number>;

/** Records of file imports the pipeline has mapped (or quarantined), by import: counted in the transaction that did it. */
export async function countProcessed(tx: Tx, processed: ReadonlyMap<string, number>): Promise<void> {
  for (const [importId, n] of processed) {
    await tx.execute(sql`update imports set processed = processed + ${n} where id = ${importId}`);
  }
}
