import type { JSONSchemaType } from 'ajv';
import { Hono } from 'hono';
import { audit } from '../access/audit.ts';
import { type AuthEnv, reasonOf } from '../access/auth.ts';
import { isUuid } from '../db/sql.ts';
import { ApiError } from '../http/errors.ts';
import { idCursor, timeCursor } from '../http/keyset.ts';
import { arr, dateTime, describeRoute, int, limitQuery, nullable, obj, str, strEnum, uuid } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import { bodyValidator, cursorOrOlder, pageLimit } from '../http/validate.ts';
import { violationSchema } from '../mapping/violations.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { listByConsent } from './consent-query.ts';
import { eraseProfile } from './erase.ts';
import { listErasures, listSuppressions } from './erasures.ts';
import { exportProfile, loadRecords } from './export.ts';

interface EraseRequest {
  reason?: string;
}
const eraseRequest = bodyValidator<EraseRequest>({
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', nullable: true, minLength: 1, maxLength: 2000 } },
} as JSONSchemaType<EraseRequest>);

const TAG = 'Compliance';
const object = { type: 'object' };
describeRoute('GET /profiles/:id/export', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Everything held on the person, as one JSON document (a download)',
  responses: { 200: { description: 'the export', schema: { type: 'object', required: ['id'], properties: { id: uuid } } } },
  errors: ['profile_not_found'],
});
describeRoute('GET /records/:source/:recordId', {
  tag: TAG,
  audience: 'compliance',
  summary: "A source record's raw payloads, fragments and profile",
  description: 'Each version holds `violations`: the values its mapping dropped as invalid or blocked, with the field, kind and why.',
  responses: {
    200: {
      description: 'the record',
      schema: obj({
        source: str,
        recordId: str,
        records: arr({ type: 'object', required: ['violations'], properties: { violations: arr(violationSchema) } }),
      }),
    },
  },
  errors: ['record_not_found'],
});
describeRoute('POST /profiles/:id/erase', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Erases the person; the reason comes in the body or X-Aurum-Reason',
  body: { schema: eraseRequest.schema, required: false },
  responses: { 200: { description: 'the erasure', schema: object } },
  errors: ['profile_not_found'],
});
describeRoute('GET /erasures', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Erasures, newest first',
  query: { limit: limitQuery(100, 1000), cursor: { type: 'string', description: 'the `next` of the previous page' } },
  responses: {
    200: {
      description: 'erasures',
      schema: obj({
        erasures: arr(
          obj({
            id: uuid,
            profileId: uuid,
            at: dateTime,
            actor: str,
            reason: nullable(str),
            records: int,
            rawRecords: int,
            identifiers: int,
            suppressed: int,
          }),
        ),
        next: nullable(str),
      }),
    },
  },
});
describeRoute('GET /erasures/:id/suppressions', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Records suppressed since an erasure',
  query: { limit: limitQuery(100, 1000), cursor: { type: 'string', description: 'the `next` of the previous page' } },
  responses: {
    200: {
      description: 'suppressions, newest first',
      schema: obj({
        erasureId: uuid,
        total: int,
        suppressions: arr(obj({ id: int, at: dateTime, source: str, rawId: int, matched: str })),
        next: nullable(str),
      }),
    },
  },
  errors: ['erasure_not_found'],
});
describeRoute('GET /consent', {
  tag: TAG,
  audience: 'compliance',
  summary: 'The profiles with a consent status for a purpose, and what decided it',
  query: {
    purpose: { type: 'string', required: true },
    status: { type: 'string', enum: ['granted', 'denied'], required: true },
    cursor: { type: 'string', format: 'uuid', description: 'the `next` of the previous page' },
    after: { type: 'string', format: 'uuid', description: 'older name of `cursor`' },
    limit: limitQuery(100, 1000),
  },
  responses: {
    200: {
      description: 'a page, in profile-id order',
      schema: obj({
        purpose: str,
        status: strEnum('granted', 'denied'),
        default: strEnum('granted', 'denied'),
        profiles: arr(obj({ profileId: uuid, status: strEnum('granted', 'denied'), decidedBy: nullable({ type: 'object' }) })),
        next: nullable(uuid),
      }),
    },
  },
  errors: ['invalid_request'],
});

/**
 * Data-subject requests and record lookups. Who may call: compliance and admin.
 * - `GET /profiles/:id/export`: everything held on the person, as one JSON document.
 * - `GET /records/:source/:recordId`: a source record's raw payload, its fragment and its profile.
 * - `POST /profiles/:id/erase {reason}`: erases the person (see `eraseProfile`).
 * - `GET /erasures`, `GET /erasures/:id/suppressions`: erasures, and the records suppressed since.
 * - `GET /consent?purpose=&status=`: the profiles with that status for the purpose, and what decided it.
 */
export function complianceRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  return new Hono<AuthEnv>()
    .get('/profiles/:id/export', allow('compliance'), async (c) => {
      const document = await exportProfile(db, c.req.param('id'), { name: c.get('caller').name, reason: reasonOf(c) });
      if (!document) throw new ApiError('profile_not_found', `there is no profile ${c.req.param('id')}`);
      c.header('content-disposition', `attachment; filename="aurum-export-${document.id}.json"`);
      return c.json(document);
    })
    .get('/records/:source/:recordId', allow('compliance'), async (c) => {
      const { source, recordId } = c.req.param();
      const records = await db.transaction(async (tx) => {
        const found = await loadRecords(tx, source, recordId);
        const actor = c.get('caller').name;
        const reason = reasonOf(c);
        await audit(
          tx,
          ...found.map((r) => ({
            actor,
            action: 'record.read' as const,
            profileId: r.profileId,
            reason,
            details: { source, object: r.object },
          })),
        );
        return found;
      });
      if (records.length === 0) throw new ApiError('record_not_found', `source ${source} has no record ${recordId}`);
      return c.json({ source, recordId, records });
    })
    .post('/profiles/:id/erase', allow('compliance'), async (c) => {
      // The reason may come as X-Aurum-Reason alone, with no body at all.
      const input = await eraseRequest(c, { optional: true });
      const reason = reasonOf(c, input.reason);
      if (!reason) throw new ApiError('invalid_request', 'an erasure needs a reason: {"reason": "…"} or X-Aurum-Reason');
      const result = await eraseProfile(ctx, c.req.param('id'), { name: c.get('caller').name, reason });
      if (!result) throw new ApiError('profile_not_found', `there is no profile ${c.req.param('id')}`);
      return c.json(result);
    })
    .get('/erasures', allow('compliance'), async (c) => {
      const after = timeCursor(c);
      return c.json(await listErasures(db, { limit: pageLimit(c), ...(after ? { after } : {}) }));
    })
    .get('/erasures/:id/suppressions', allow('compliance'), async (c) => {
      const below = idCursor(c);
      const page = await listSuppressions(db, c.req.param('id'), { limit: pageLimit(c), ...(below === undefined ? {} : { below }) });
      if (!page) throw new ApiError('erasure_not_found', `there is no erasure ${c.req.param('id')}`);
      return c.json(page);
    })
    .get('/consent', allow('compliance'), async (c) => {
      const { purpose, status } = c.req.query();
      const after = cursorOrOlder(c, 'after');
      if (!purpose) throw new ApiError('invalid_request', 'purpose is required');
      if (status !== 'granted' && status !== 'denied') throw new ApiError('invalid_request', 'status must be granted or denied');
      const purposes = ctx.workspace().purposes;
      if (!purposes.known(purpose)) throw new ApiError('invalid_request', `purpose ${purpose} is not declared in consent.yaml`);
      if (after !== undefined && !isUuid(after))
        throw new ApiError('invalid_request', 'cursor (or after) must be the `next` of a previous page');
      const page = await listByConsent(db, {
        purpose,
        status,
        defaultStatus: purposes.defaultOf(purpose),
        ...(after ? { after } : {}),
        limit: pageLimit(c),
      });
      return c.json({ purpose, status, default: purposes.defaultOf(purpose), ...page });
    });
}
