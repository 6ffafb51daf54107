import type { JSONSchemaType } from 'ajv';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { audit } from '../access/audit.ts';
import { type AuthEnv, reasonOf } from '../access/auth.ts';
import { ConfigError } from '../config/yaml-file.ts';
import { type Raw, rowsOf } from '../db/database.ts';
import type { quarantine, rawRecords } from '../db/schema.ts';
import { bigintArray } from '../db/sql.ts';
import { ApiError } from '../http/errors.ts';
import { any, arr, bool, dateTime, describeRoute, int, limitQuery, nullable, obj, str } from '../http/openapi.ts';
import { capPage, runningBytes, withinPage } from '../http/page-bytes.ts';
import { allow } from '../http/roles.ts';
import { bodyValidator, cursorOrOlder, pageLimit } from '../http/validate.ts';
import { rawRecordOf } from '../intake/store.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue, ingestJobs } from '../queue/catalog.ts';

interface ReplayRequest {
  ids?: number[];
  source?: string;
}

const replayRequest = bodyValidator<ReplayRequest>({
  type: 'object',
  additionalProperties: false,
  properties: {
    ids: { type: 'array', nullable: true, items: { type: 'integer', minimum: 1 }, maxItems: 100_000 },
    source: { type: 'string', nullable: true },
  },
} as JSONSchemaType<ReplayRequest>);

type QuarantineRow = Raw<
  Pick<
    typeof quarantine.$inferSelect,
    'id' | 'rawId' | 'source' | 'mappingFile' | 'code' | 'message' | 'status' | 'createdAt' | 'resolvedAt'
  > &
    Pick<typeof rawRecords.$inferSelect, 'receivedAt' | 'payload'>
>;

const item = (r: QuarantineRow) => ({
  id: Number(r.id),
  rawId: Number(r.rawId),
  source: r.source,
  mapping: r.mappingFile,
  code: r.code,
  message: r.message,
  status: r.status,
  quarantinedAt: new Date(r.createdAt).toISOString(),
  resolvedAt: r.resolvedAt ? new Date(r.resolvedAt).toISOString() : null,
  receivedAt: new Date(r.receivedAt).toISOString(),
  payload: r.payload,
});

describeRoute('GET /quarantine', {
  tag: 'Quarantine',
  audience: 'ops',
  summary: 'Records a mapping could not turn into a valid fragment, newest first (each read audited)',
  query: {
    status: { type: 'string', enum: ['open', 'resolved', 'flagged', 'all'], default: 'open' },
    source: { type: 'string' },
    cursor: { type: 'string', description: 'the `next` of the previous page' },
    before: { type: 'string', description: 'older name of `cursor`' },
    limit: limitQuery(100, 1000),
  },
  responses: {
    200: {
      description: 'a page of entries',
      schema: obj({
        items: arr(
          obj({
            id: int,
            rawId: int,
            source: str,
            mapping: nullable(str),
            code: str,
            message: str,
            status: str,
            quarantinedAt: dateTime,
            resolvedAt: nullable(dateTime),
            receivedAt: dateTime,
            payload: any,
          }),
        ),
        next: nullable(int),
        truncated: bool,
      }),
    },
  },
  errors: ['invalid_request'],
});
describeRoute('POST /quarantine/replay', {
  tag: 'Quarantine',
  audience: 'ops',
  summary: 'Reloads the workspace and maps the open entries again',
  body: { schema: replayRequest.schema, required: false },
  responses: { 202: { description: 'how many were queued', schema: obj({ replayed: int }) } },
  errors: ['invalid_config'],
});

/**
 * Quarantine: records a mapping could not turn into a valid fragment, with their error and raw payload.
 * Who may call: ops and admin (each route's `allow`).
 * - `GET /quarantine?status=&source=&limit=&cursor=` (`before=` too): newest first, at most `MAX_PAGE_BYTES` a page,
 *   `next` continuing it; each read is audited (`quarantine.read`, with the raw ids).
 * - `POST /quarantine/replay {ids?, source?}`: maps the open entries again.
 */
export function quarantineRoutes(ctx: PipelineContext, reloadWorkspace: () => void) {
  const db = ctx.database.db;
  return new Hono<AuthEnv>()
    .get('/quarantine', allow('ops'), async (c) => {
      const status = c.req.query('status') ?? 'open';
      if (!['open', 'resolved', 'flagged', 'all'].includes(status)) {
        throw new ApiError('invalid_request', 'status must be open, resolved, flagged or all');
      }
      const source = c.req.query('source');
      const before = cursorOrOlder(c, 'before');
      if (before !== undefined && !/^[1-9][0-9]{0,17}$/.test(before))
        throw new ApiError('invalid_request', 'cursor (or before) must be the `next` of a previous page');
      const limit = pageLimit(c);
      // The payloads are personal data: the read and its audit entry commit together, or neither.
      const page = await db.transaction(async (tx) => {
        // Limit first, then total the sizes of that page only; rows past the byte budget stay in the database.
        // The payloads are intake's: its subquery is joined here, so the budget is still totalled before any leaves.
        const rows = rowsOf<QuarantineRow & { fetched: string | number }>(
          await tx.execute(sql`
            select * from (
              select p.*, ${runningBytes(sql`octet_length(p.payload::text)`, sql`p.id desc`)} as running_bytes, count(*) over () as fetched
              from (
                select q.id, q.raw_id as "rawId", q.source, q.mapping_file as "mappingFile", q.code, q.message, q.status,
                  q.created_at as "createdAt", q.resolved_at as "resolvedAt", r."receivedAt", r.payload
                from quarantine q cross join lateral ${rawRecordOf(sql`q.raw_id`)} r
                where true ${status === 'all' ? sql`` : sql`and q.status = ${status}`} ${source ? sql`and q.source = ${source}` : sql``}
                  ${before ? sql`and q.id < ${before}` : sql``}
                order by q.id desc limit ${limit + 1}) p) w
            where ${withinPage(sql`running_bytes`)} order by id desc`),
        );
        const fetched = Number(rows[0]?.fetched ?? 0);
        const capped = capPage(rows.slice(0, limit).map(item));
        if (capped.items.length > 0) {
          await audit(tx, {
            actor: c.get('caller').name,
            action: 'quarantine.read',
            reason: reasonOf(c),
            details: { rawIds: [...new Set(capped.items.map((i) => i.rawId))] },
          });
        }
        // Cut by bytes in the database (fewer rows came than were fetched) or here: either way, more follow.
        const truncated = capped.truncated || rows.length < Math.min(fetched, limit);
        const more = fetched > limit || truncated;
        return { capped, more, truncated };
      });
      const last = page.capped.items.at(-1);
      return c.json({ items: page.capped.items, next: page.more && last ? last.id : null, truncated: page.truncated });
    })
    .post('/quarantine/replay', allow('ops'), async (c) => {
      const input = await replayRequest(c, { optional: true });
      // The fix is on disk: read it before replaying. A broken workspace replays nothing.
      try {
        reloadWorkspace();
      } catch (error) {
        if (error instanceof ConfigError)
          throw new ApiError('invalid_config', 'the workspace has errors; nothing was replayed', error.problems);
        throw error;
      }
      const entries = rowsOf<Raw<Pick<typeof quarantine.$inferSelect, 'rawId' | 'code'>>>(
        await db.execute(sql`
          select raw_id as "rawId", min(code) as code from quarantine where status = 'open'
          ${input.ids ? sql`and id = any(${bigintArray(input.ids)})` : sql``}
          ${input.source ? sql`and source = ${input.source}` : sql``}
          group by raw_id order by raw_id`),
      );
      // Webhook records whose objects could not be fetched are fetched again; the rest mapped again.
      const fetch = entries.filter((e) => e.code === 'fetch_failed').map((e) => Number(e.rawId));
      const map = entries.filter((e) => e.code !== 'fetch_failed').map((e) => Number(e.rawId));
      const size = ctx.settings.ingestBatchSize;
      if (map.length > 0) await enqueue(ctx.boss, undefined, 'ingest', ingestJobs(map, size));
      if (fetch.length > 0) await enqueue(ctx.boss, undefined, 'hydrate', ingestJobs(fetch, size));
      return c.json({ replayed: entries.length }, 202);
    });
}
