import type { JSONSchemaType } from 'ajv';
import { Hono } from 'hono';
import type { AuthEnv } from '../access/auth.ts';
import { isUuid } from '../db/sql.ts';
import { ApiError } from '../http/errors.ts';
import { timeCursor, timePage } from '../http/keyset.ts';
import { arr, describeRoute, limitQuery, nullable, num, obj, str, strEnum, uuid } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import { bodyValidator, pageLimit } from '../http/validate.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { REBUILD_KINDS, type RebuildKind } from './definitions.ts';
import { requestRebuilds } from './run.ts';
import { getRebuild, listRebuilds, type Rebuild } from './store.ts';

interface RebuildRequest {
  kinds: RebuildKind[];
  reason?: string;
}

const requestSchema: JSONSchemaType<RebuildRequest> = {
  type: 'object',
  additionalProperties: false,
  required: ['kinds'],
  properties: {
    kinds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...REBUILD_KINDS] } },
    reason: { type: 'string', nullable: true, minLength: 1, maxLength: 500 },
  },
};
const readRequest = bodyValidator(requestSchema);

/** A rebuild as the API shows it: `progress` from 0 to 1. */
const view = ({ definition: _definition, cursor: _cursor, ...r }: Rebuild) => ({
  ...r,
  progress: r.status === 'done' ? 1 : r.total > 0 ? Math.min(r.processed / r.total, 1) : 0,
});

const rebuildSchema = {
  type: 'object',
  required: ['id', 'kind', 'status', 'total', 'processed', 'progress'],
  properties: {
    id: uuid,
    kind: strEnum(...REBUILD_KINDS),
    reason: nullable(str),
    status: str,
    total: num,
    processed: num,
    progress: { type: 'number', minimum: 0, maximum: 1 },
  },
};
describeRoute('GET /rebuilds', {
  tag: 'Rebuilds',
  audience: 'ops',
  summary: 'Re-derivations of stored data, newest first',
  query: { limit: limitQuery(50, 200), cursor: { type: 'string', description: 'the `next` of the previous page' } },
  responses: { 200: { description: 'a page', schema: obj({ rebuilds: arr(rebuildSchema), next: nullable(str) }) } },
  errors: ['invalid_request'],
});
describeRoute('GET /rebuilds/:id', {
  tag: 'Rebuilds',
  audience: 'ops',
  summary: 'One rebuild',
  responses: { 200: { description: 'the rebuild', schema: rebuildSchema } },
  errors: ['not_found'],
});
describeRoute('POST /rebuilds', {
  tag: 'Rebuilds',
  audience: 'ops',
  summary: 'Rebuilds those kinds now (one already queued or running answers instead)',
  description:
    "`keys` derives every live record's keys from identity.yaml again (`total`: records); `golden` builds every " +
    "live profile's golden record again (`total`: profiles); `mappings` maps each record a former version of its " +
    'mapping made again, from its latest raw record (`total`: those records).',
  body: { schema: readRequest.schema },
  responses: { 202: { description: 'the rebuilds', schema: obj({ rebuilds: arr(rebuildSchema) }) } },
});

/**
 * Re-derivations of stored data (record keys, golden records, records mapped by an older version
 * of their mapping). Who may call: ops and admin.
 * - `GET /rebuilds?limit=&cursor=`: newest first, `{rebuilds: [{id, kind, reason, status, total, processed, progress, …}], next}`.
 * - `GET /rebuilds/:id`: one of them.
 * - `POST /rebuilds` `{kinds: ["keys", "golden", "mappings"], reason?}`: rebuilds those kinds now;
 *   a rebuild of a kind already queued or running is answered instead of a second one.
 */
export function rebuildRoutes(ctx: PipelineContext) {
  return new Hono<AuthEnv>()
    .get('/rebuilds', allow('ops'), async (c) => {
      const limit = pageLimit(c, 50, 200);
      const page = timePage(await listRebuilds(ctx.database.db, limit + 1, timeCursor(c)), limit);
      return c.json({ rebuilds: page.rows.map(({ cursor_micros: _position, ...r }) => view(r)), next: page.next });
    })
    .get('/rebuilds/:id', allow('ops'), async (c) => {
      const id = c.req.param('id');
      const rebuild = isUuid(id) ? await getRebuild(ctx.database.db, id) : undefined;
      if (!rebuild) throw new ApiError('not_found', `there is no rebuild ${id}`);
      return c.json(view(rebuild));
    })
    .post('/rebuilds', allow('ops'), async (c) => {
      const input = await readRequest(c);
      const caller = c.get('caller').name;
      const rebuilds = await requestRebuilds(ctx, input.kinds, input.reason ?? `asked for by ${caller}`);
      return c.json({ rebuilds: rebuilds.map(view) }, 202);
    });
}
