import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db, Queryable } from '../db/database.ts';
import { backfills, destinations } from '../db/schema.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { countLiveOf, liveProfilesAfter } from '../resolution/read.ts';
import { fanout } from './fanout.ts';

export interface BackfillJob {
  backfillId: string;
}

const PAGE = 500;

const view = (b: typeof backfills.$inferSelect) => ({
  id: b.id,
  destinationId: b.destinationId,
  // The check constraint holds it to these.
  status: b.status as 'running' | 'done',
  total: b.total,
  processed: b.processed,
  queued: b.queued,
  progress: b.total === 0 ? 1 : Math.min(b.processed / b.total, 1),
  startedAt: b.startedAt.toISOString(),
  finishedAt: b.finishedAt ? b.finishedAt.toISOString() : null,
});

/** What a destination takes: persons, accounts or both (`entities`); nothing once it is deleted. */
async function taken(db: Queryable, destinationId: string): Promise<string[]> {
  const [row] = await db.select({ entities: destinations.entities }).from(destinations).where(eq(destinations.id, destinationId));
  return row?.entities ?? [];
}

/**
 * Starts sending every active profile that qualifies, and every active account if it takes
 * accounts, to one destination; a running backfill is returned as is.
 */
export async function startBackfill(ctx: PipelineContext, destinationId: string) {
  return ctx.database.db.transaction(async (tx) => {
    const [running] = await tx
      .select()
      .from(backfills)
      .where(and(eq(backfills.destinationId, destinationId), eq(backfills.status, 'running')));
    if (running) return view(running);
    const [created] = await tx
      .insert(backfills)
      .values({
        destinationId,
        total: await countLiveOf(tx, await taken(tx, destinationId)),
      })
      .returning();
    const backfill = created as typeof backfills.$inferSelect;
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
    const [backfill] = await db.select().from(backfills).where(eq(backfills.id, job.backfillId));
    if (backfill?.status !== 'running') return; // its destination was deleted, or it is done
    const page = await liveProfilesAfter(db, await taken(db, backfill.destinationId), backfill.afterId, PAGE);
    if (page.length === 0) {
      await db.execute(sql`update backfills set status = 'done', finished_at = now() where id = ${backfill.id}`);
      return;
    }
    const queued = await fanout(
      ctx,
      page.map(({ id, entity }) =>
        entity === 'account' ? { profileId: id, event: 'account.updated' as const } : { profileId: id, event: 'profile.updated' as const },
      ),
      backfill.destinationId,
    );
    await db.execute(sql`
      update backfills set processed = processed + ${page.length}, queued = queued + ${queued}, after_id = ${page.at(-1)?.id as string}
      where id = ${backfill.id}`);
  }
}

export async function backfillProgress(db: Db, destinationId: string) {
  const [latest] = await db
    .select()
    .from(backfills)
    .where(eq(backfills.destinationId, destinationId))
    .orderBy(desc(backfills.startedAt))
    .limit(1);
  return latest ? view(latest) : undefined;
}
