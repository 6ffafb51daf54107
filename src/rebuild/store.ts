import { and, desc, eq, ne, sql } from 'drizzle-orm';
import type { Queryable, Raw, Tx } from '../db/database.ts';
import { rowsOf } from '../db/database.ts';
import { rebuilds } from '../db/schema.ts';
import { afterTime, microsOf, type TimePosition } from '../http/keyset.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import type { RebuildKind } from './definitions.ts';

export type RebuildStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Rebuild {
  id: string;
  kind: RebuildKind;
  reason: string;
  definition: string;
  status: RebuildStatus;
  total: number;
  processed: number;
  cursor: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface RebuildJob {
  rebuildId: string;
}

// Aliased to the API's shape, so rows need no mapper.
const COLUMNS = sql`id::text, kind, reason, definition, status, total, processed, cursor::float8 as cursor, error,
  created_at as "createdAt", finished_at as "finishedAt"`;

// `cursor` is cast to float8 and int4 columns come back as numbers: only the timestamps vary by driver.
type RebuildRow = Pick<typeof rebuilds.$inferSelect, 'id' | 'reason' | 'definition' | 'total' | 'processed' | 'cursor' | 'error'> &
  Raw<Pick<typeof rebuilds.$inferSelect, 'createdAt' | 'finishedAt'>> & { kind: RebuildKind; status: RebuildStatus };

const normalise = (r: RebuildRow): Rebuild => ({
  ...r,
  cursor: Number(r.cursor),
  createdAt: new Date(r.createdAt).toISOString(),
  finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
});

/**
 * Queues a rebuild of `kind`, with its job, in `tx`; a rebuild of that kind already queued or
 * running is the one returned instead (it is started again with the newest definition when it ends:
 * see `runRebuild`).
 */
export async function requestRebuild(
  ctx: PipelineContext,
  tx: Tx,
  kind: RebuildKind,
  reason: string,
  definition: string,
): Promise<Rebuild> {
  const [created] = rowsOf<RebuildRow>(
    await tx.execute(sql`
      insert into rebuilds (kind, reason, definition) values (${kind}, ${reason}, ${definition})
      on conflict (kind) where status in ('queued', 'running') do nothing
      returning ${COLUMNS}`),
  );
  if (created) {
    await enqueue(ctx.boss, tx, 'rebuild', { rebuildId: created.id });
    return normalise(created);
  }
  const [active] = rowsOf<RebuildRow>(
    await tx.execute(sql`select ${COLUMNS} from rebuilds where kind = ${kind} and status in ('queued', 'running')`),
  );
  return normalise(active as RebuildRow);
}

/** Records that derived data of `kind` is current with `definition`, with nothing to rebuild (a new hub). */
export async function recordCurrent(tx: Tx, kind: RebuildKind, definition: string): Promise<void> {
  await tx.execute(sql`
    insert into rebuilds (kind, reason, definition, status, finished_at)
    values (${kind}, 'nothing stored yet', ${definition}, 'done', now())`);
}

/** The definition the data of `kind` was last derived from (or is being derived from), if any. */
export async function lastDefinition(db: Queryable, kind: RebuildKind): Promise<string | undefined> {
  const [row] = await db
    .select({ definition: rebuilds.definition })
    .from(rebuilds)
    .where(and(eq(rebuilds.kind, kind), ne(rebuilds.status, 'failed')))
    .orderBy(desc(rebuilds.createdAt), rebuilds.id)
    .limit(1);
  return row?.definition;
}

export async function getRebuild(db: Queryable, id: string): Promise<Rebuild | undefined> {
  const [row] = rowsOf<RebuildRow>(await db.execute(sql`select ${COLUMNS} from rebuilds where id = ${id}::uuid`));
  return row ? normalise(row) : undefined;
}

/** Newest first, after `position` (the last one of the previous page; see `http/keyset.ts`). */
export async function listRebuilds(
  db: Queryable,
  limit: number,
  position?: TimePosition,
): Promise<(Rebuild & { cursor_micros: string | number })[]> {
  return rowsOf<RebuildRow & { cursor_micros: string | number }>(
    await db.execute(sql`
      select ${COLUMNS}, ${microsOf(sql`created_at`)} as cursor_micros from rebuilds
      where true ${afterTime(sql`created_at`, sql`id`, position)}
      order by created_at desc, id limit ${limit}`),
  ).map((r) => ({ ...normalise(r), cursor_micros: r.cursor_micros }));
}

export async function startRebuild(tx: Tx, id: string, total: number): Promise<void> {
  await tx.execute(sql`
    update rebuilds set status = 'running', total = greatest(total, ${total}), updated_at = now() where id = ${id}::uuid and status = 'queued'`);
}

/** Moves a rebuild's cursor past a batch done, in the batch's transaction. */
export async function advanceRebuild(tx: Tx, id: string, cursor: number, done: number): Promise<void> {
  await tx.execute(sql`
    update rebuilds set cursor = ${cursor}, processed = processed + ${done}, total = greatest(total, processed + ${done}),
      updated_at = now()
    where id = ${id}::uuid`);
}

export async function finishRebuild(db: Queryable, id: string, error?: string): Promise<void> {
  await db.execute(sql`
    update rebuilds set status = ${error ? 'failed' : 'done'}, error = ${error ?? null}, finished_at = now(), updated_at = now()
    where id = ${id}::uuid`);
}
