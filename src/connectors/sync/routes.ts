import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { type RawRow, rowsOf } from '../../db/database.ts';
import { sourceCursors, syncRuns } from '../../db/schema.ts';
import { ApiError } from '../../http/errors.ts';
import { idCursor, idPage } from '../../http/keyset.ts';
import { any, arr, bool, dateTime, describeRoute, int, nullable, num, obj, type Schema, str, strEnum } from '../../http/openapi.ts';
import { allow } from '../../http/roles.ts';
import type { PipelineContext } from '../../pipeline-context.ts';
import { enqueue, QUEUES } from '../../queue/catalog.ts';
import { connectorTypes } from '../registry.ts';
import { markInterrupted, type SyncJob } from './run.ts';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function runView(r: typeof syncRuns.$inferSelect) {
  // Written by `runSync` only, as `{code, message}`.
  const error = r.error as { code: string; message: string } | null;
  const started = r.startedAt?.getTime();
  const finished = r.finishedAt?.getTime();
  return {
    id: r.id,
    source: r.source,
    full: r.fullSync,
    trigger: r.trigger,
    status: r.status,
    queuedAt: iso(r.queuedAt),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    seconds: started !== undefined && finished !== undefined ? (finished - started) / 1000 : null,
    pages: r.pages,
    records: r.records,
    requests: r.requests,
    cursorFrom: r.cursorFrom,
    cursorTo: r.cursorTo,
    /** Where the source resumes after this run: its cursor as it left it. */
    cursor: r.cursorTo,
    error,
    /** The run's errors; a run stops at its first, so there is at most one. */
    errors: error ? [error] : [],
  };
}

const errorSchema = obj({ code: str, message: str }, [], true);
const runSchema: Schema = obj({
  id: int,
  source: str,
  full: bool,
  trigger: str,
  status: str,
  queuedAt: dateTime,
  startedAt: nullable(dateTime),
  finishedAt: nullable(dateTime),
  seconds: nullable(num),
  pages: int,
  records: int,
  requests: int,
  cursorFrom: any,
  cursorTo: any,
  cursor: any,
  error: nullable(errorSchema),
  errors: arr(errorSchema),
});
const TAG = 'Sources';
describeRoute('GET /sources', {
  tag: TAG,
  audience: 'ops',
  summary: 'Every source with its health, last run and cursor',
  responses: {
    200: {
      description: 'sources',
      schema: obj({
        sources: arr(
          obj({
            name: str,
            type: str,
            priority: num,
            webhook: str,
            pulls: bool,
            schedule: nullable(str),
            rateLimit: any,
            health: strEnum('webhooks_only', 'never_synced', 'failing', 'ok'),
            lastRun: nullable(runSchema),
            lastSuccessAt: nullable(dateTime),
            cursor: nullable(obj({ cursor: any, updatedAt: nullable(dateTime) })),
          }),
        ),
      }),
    },
  },
});
describeRoute('POST /sources/:source/sync', {
  tag: TAG,
  audience: 'ops',
  summary: 'Queues a pull now',
  body: { schema: obj({ full: bool }, ['full']), required: false },
  responses: { 202: { description: 'the queued run', schema: runSchema } },
  errors: ['unknown_source', 'not_pullable', 'sync_in_progress'],
});
describeRoute('GET /sources/:source/runs', {
  tag: TAG,
  audience: 'ops',
  summary: 'Its runs, newest first',
  query: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', description: 'the `next` of the previous page' },
  },
  responses: { 200: { description: 'runs; pass `next` back as `cursor`', schema: obj({ runs: arr(runSchema), next: nullable(str) }) } },
  errors: ['unknown_source'],
});

/**
 * Sources and their syncs. Who may call: ops and admin (each route's `allow`).
 * - `GET /sources`: every source with its health.
 * - `POST /sources/:source/sync {full?}`: queues a pull now (202 with the run), 409 while one is queued or running.
 * - `GET /sources/:source/runs?limit=&cursor=`: its runs, newest first, `next` continuing them.
 */
export function sourceRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const sourceOf = (name: string) => {
    const source = ctx.workspace().sources.get(name);
    if (!source) throw new ApiError('unknown_source', `there is no source named "${name}"`);
    return source;
  };
  return new Hono()
    .get('/sources', allow('ops'), async (c) => {
      const latest = new Map(
        (await db.selectDistinctOn([syncRuns.source]).from(syncRuns).orderBy(syncRuns.source, desc(syncRuns.id))).map((r) => [r.source, r]),
      );
      const succeeded = new Map(
        rowsOf<RawRow<typeof syncRuns, 'source'> & { at: Date | string }>(
          await db.execute(sql`select source, max(finished_at) as at from sync_runs where status = 'succeeded' group by source`),
        ).map((r) => [r.source, iso(r.at)]),
      );
      const cursors = new Map(
        (await db.select().from(sourceCursors)).map((r) => [r.source, { cursor: r.cursor, updatedAt: iso(r.updatedAt) }]),
      );
      const sources = [...ctx.workspace().sources.values()].map((s) => {
        const pulls = Boolean(connectorTypes.get(s.type)?.pull);
        const last = latest.get(s.name);
        const health = !pulls ? 'webhooks_only' : !last ? 'never_synced' : last.status === 'failed' ? 'failing' : 'ok';
        return {
          name: s.name,
          type: s.type,
          priority: s.priority,
          webhook: `/webhooks/${s.name}`,
          pulls,
          schedule: s.schedule ?? null,
          rateLimit: s.rateLimit ?? null,
          health,
          lastRun: last ? runView(last) : null,
          lastSuccessAt: succeeded.get(s.name) ?? null,
          cursor: cursors.get(s.name) ?? null,
        };
      });
      return c.json({ sources });
    })
    .post('/sources/:source/sync', allow('ops'), async (c) => {
      const source = sourceOf(c.req.param('source'));
      if (!connectorTypes.get(source.type)?.pull) {
        throw new ApiError('not_pullable', `a ${source.type} source is not pulled: it sends webhooks or files`);
      }
      const text = await c.req.text();
      let full = false;
      if (text.trim() !== '') {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError('malformed_json', 'the body is not valid JSON');
        }
        const given = (body as { full?: unknown } | null)?.full;
        if (body === null || typeof body !== 'object' || Array.isArray(body) || (given !== undefined && typeof given !== 'boolean')) {
          throw new ApiError('invalid_request', 'the body is {"full": true|false} or empty');
        }
        full = given === true;
      }
      // A run whose process died stays "running" until a job of the source runs again: with no job
      // queued or active, it is over.
      const liveJobs = async () =>
        (await ctx.boss.findJobs(QUEUES.sync, { key: source.name })).filter((j) => ['created', 'retry', 'active'].includes(j.state));
      let jobs = await liveJobs();
      // The job of a run that has just ended holds the source until pg-boss completes it, a moment
      // later: a sync asked for in that moment waits for it rather than being refused.
      const runOpen = async () =>
        rowsOf(await db.execute(sql`select 1 from sync_runs where source = ${source.name} and status in ('queued', 'running') limit 1`))
          .length > 0;
      for (
        let waited = 0;
        waited < 10_000 && jobs.length > 0 && jobs.every((j) => j.state === 'active') && !(await runOpen());
        waited += 100
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        jobs = await liveJobs();
      }
      if (jobs.length === 0) {
        await markInterrupted(db, source.name, ['queued', 'running']);
      }
      const busy = () => new ApiError('sync_in_progress', `a sync of "${source.name}" is already queued or running`);
      const run = await db.transaction(async (tx) => {
        const [row] = await tx
          .insert(syncRuns)
          .values({ source: source.name, fullSync: full, trigger: 'api', status: 'queued' })
          .onConflictDoNothing()
          .returning();
        if (!row) throw busy();
        const job: SyncJob = { source: source.name, full, runId: row.id };
        // A scheduled run may be queued without a row yet: then the job is not created, and nor is the run.
        if (!(await enqueue(ctx.boss, tx, 'sync', job, { singletonKey: source.name }))) throw busy();
        return row;
      });
      return c.json(runView(run), 202);
    })
    .get('/sources/:source/runs', allow('ops'), async (c) => {
      const source = sourceOf(c.req.param('source'));
      const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 50) || 50, 1), 500);
      const below = idCursor(c);
      const page = idPage(
        await db
          .select()
          .from(syncRuns)
          .where(and(eq(syncRuns.source, source.name), below === undefined ? undefined : lt(syncRuns.id, below)))
          .orderBy(desc(syncRuns.id))
          .limit(limit + 1),
        limit,
      );
      return c.json({ runs: page.rows.map(runView), next: page.next });
    });
}
