import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../db/database.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { fanout } from './fanout.ts';

export interface BackfillJob {
  backfillId: string;
}

const PAGE = 500;

interface BackfillRow {
  id: string;
  destination_id: string;
  status: 'running' | 'done';
  total: number;
  processed: number;
  queued: number;
  after_id: string | null;
  started_at: Date | string;
  finished_at: Date | string | null;
}
const view = (b: BackfillRow) => ({
  id: b.id,
  destinationId: b.destination_id,
  status: b.status,
  total: b.total,
  processed: b.processed,
  queued: b.queued,
  progress: b.total === 0 ? 1 : Math.min(b.processed / b.total, 1),
  startedAt: new Date(b.started_at).toISOString(),
  finishedAt: b.finished_at ? new Date(b.finished_at).toISOString() : null,
});

/** What a destination takes: persons, accounts or both (`entities`). */
const taken = (destinationId: string) => sql`entity in (select unnest(entities) from destinations where id = ${destinationId})`;

/**
 * Starts sending every active profile that qualifies, and every active account if it takes
 * accounts, to one destination; a running backfill is returned as is.
 */
export async function startBackfill(ctx: PipelineContext, destinationId: string) {
  return ctx.database.db.transaction(async (tx) => {
    const [running] = rowsOf<BackfillRow>(
      await tx.execute(sql`select * from backfills where destination_id = ${destinationId} and status = 'running'`),
    );
    if (running) return view(running);
    const [created] = rowsOf<BackfillRow>(
      await tx.execute(sql`
        insert into backfills (destination_id, total)
        values (${destinationId}, (select count(*) from profiles where merged_into is null and erased_at is null and ${taken(destinationId)}))
        returning *`),
    );
    const backfill = created as BackfillRow;
    await enqueue(ctx.boss, tx, 'backfill', { backfillId: backfill.id });
    return view(backfill);
  });
}

/**
 * Pages through the active profiles and accounts the destination takes, in id order, and plans each
 * page for the destination as the fan-out stage would (consent, event filter, field allowlist, what
 * it already holds); an account goes with its members, as `account.member_added`. Progress is saved
 * after every page, so a crashed backfill resumes where it stopped.
 */
export async function runBackfill(ctx: PipelineContext, job: BackfillJob): Promise<void> {
  const db = ctx.database.db;
  for (;;) {
    const [backfill] = rowsOf<BackfillRow>(await db.execute(sql`select * from backfills where id = ${job.backfillId}`));
    if (backfill?.status !== 'running') return; // its destination was deleted, or it is done
    const page = rowsOf<{ id: string; entity: Entity }>(
      await db.execute(sql`
        select id, entity from profiles where merged_into is null and erased_at is null and ${taken(backfill.destination_id)}
          ${backfill.after_id ? sql`and id > ${backfill.after_id}` : sql``}
        order by id limit ${PAGE}`),
    );
    if (page.length === 0) {
      await db.execute(sql`update backfills set status = 'done', finished_at = now() where id = ${backfill.id}`);
      return;
    }
    const queued = await fanout(
      ctx,
      page.map(({ id, entity }) =>
        entity === 'account' ? { profileId: id, event: 'account.updated' as const } : { profileId: id, event: 'profile.updated' as const },
      ),
      backfill.destination_id,
    );
    await db.execute(sql`
      update backfills set processed = processed + ${page.length}, queued = queued + ${queued}, after_id = ${page.at(-1)?.id as string}
      where id = ${backfill.id}`);
  }
}

export async function backfillProgress(db: Db, destinationId: string) {
  const [latest] = rowsOf<BackfillRow>(
    await db.execute(sql`select * from backfills where destination_id = ${destinationId} order by started_at desc limit 1`),
  );
  return latest ? view(latest) : undefined;
}
