import { randomBytes } from 'node:crypto';
import type { JSONSchemaType } from 'ajv';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AuthEnv } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { allow } from '../api/roles.ts';
import { bodyValidator, pageLimit } from '../api/validate.ts';
import { rowsOf } from '../db/database.ts';
import { textArray } from '../db/sql.ts';
import type { PipelineContext } from '../pipeline-context.ts';

interface NewDestination {
  url: string;
  purposes?: string[];
}

const newDestination = bodyValidator<NewDestination>({
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 },
    purposes: { type: 'array', nullable: true, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' }, uniqueItems: true },
  },
  required: ['url'],
} as JSONSchemaType<NewDestination>);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface DestinationRow {
  id: string;
  url: string;
  purposes: string[];
  created_at: Date | string;
}
const view = (d: DestinationRow) => ({ id: d.id, url: d.url, purposes: d.purposes, createdAt: new Date(d.created_at).toISOString() });

/** Destinations and their delivery log. Who may call: ops and admin (each route's `allow`). */
export function destinationRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const find = async (id: string) => {
    const [row] = UUID.test(id)
      ? rowsOf<DestinationRow>(await db.execute(sql`select id, url, purposes, created_at from destinations where id = ${id}`))
      : [];
    if (!row) throw new ApiError('destination_not_found', `there is no destination ${id}`);
    return row;
  };

  return new Hono<AuthEnv>()
    .post('/destinations', allow('ops'), async (c) => {
      const input = await newDestination(c);
      const purposes = ctx.workspace().purposes;
      const unknown = (input.purposes ?? []).filter((p) => !purposes.known(p));
      if (unknown.length > 0) throw new ApiError('invalid_request', `purposes not declared in consent.yaml: ${unknown.join(', ')}`);
      const secret = randomBytes(32).toString('hex');
      const [row] = rowsOf<DestinationRow>(
        await db.execute(sql`
          insert into destinations (url, purposes, secret) values (${input.url}, ${textArray(input.purposes ?? [])}, ${secret})
          returning id, url, purposes, created_at`),
      );
      // The secret is shown once, here; the hub keeps it only to sign.
      return c.json({ ...view(row as DestinationRow), secret }, 201);
    })
    .get('/destinations', allow('ops'), async (c) => {
      const rows = rowsOf<DestinationRow>(
        await db.execute(sql`select id, url, purposes, created_at from destinations order by created_at`),
      );
      return c.json({ destinations: rows.map(view) });
    })
    .get('/destinations/:id', allow('ops'), async (c) => c.json(view(await find(c.req.param('id')))))
    .get('/destinations/:id/deliveries', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const limit = pageLimit(c);
      const status = c.req.query('status');
      const rows = rowsOf<{
        id: string;
        profile_id: string;
        event: string;
        status: string;
        attempts: number;
        last_status_code: number | null;
        last_error: string | null;
        created_at: Date | string;
        delivered_at: Date | string | null;
        attempt_log: { attempt: number; at: string; statusCode: number | null; error: string | null; durationMs: number }[];
      }>(
        await db.execute(sql`
          select d.id, d.profile_id, d.event, d.status, d.attempts, d.last_status_code, d.last_error, d.created_at, d.delivered_at,
            coalesce((select json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'statusCode', a.status_code,
              'error', a.error, 'durationMs', a.duration_ms) order by a.attempt)
              from delivery_attempts a where a.delivery_id = d.id), '[]'::json) as attempt_log
          from deliveries d
          where d.destination_id = ${destination.id} ${status ? sql`and d.status = ${status}` : sql``}
          order by d.created_at desc, d.id limit ${limit}`),
      );
      return c.json({
        deliveries: rows.map((r) => ({
          id: r.id,
          profileId: r.profile_id,
          event: r.event,
          status: r.status,
          attempts: r.attempt_log,
          lastStatusCode: r.last_status_code,
          lastError: r.last_error,
          createdAt: new Date(r.created_at).toISOString(),
          deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null,
        })),
      });
    });
}
