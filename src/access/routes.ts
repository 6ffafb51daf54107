import type { JSONSchemaType } from 'ajv';
import { Hono } from 'hono';
import { ROLES, type Role } from '../config/settings.ts';
import { isUuid } from '../db/sql.ts';
import { ApiError } from '../http/errors.ts';
import { any, arr, bool, dateTime, describeRoute, int, limitQuery, nullable, obj, str, strEnum, uuid } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import { bodyValidator, cursorOrOlder, pageLimit } from '../http/validate.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { createKey, KeyError, listKeys, revokeKey } from './api-keys.ts';
import { AUDIT_ACTIONS, queryAudit } from './audit.ts';
import { type AuthEnv, reasonOf } from './auth.ts';

interface KeyRequest {
  name: string;
  role: Role;
}
const keyRequest = bodyValidator<KeyRequest>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role'],
  properties: {
    // Which names a key may bear is createKey's to say (keyNameProblem), for the API and the CLI alike.
    name: { type: 'string', minLength: 1, maxLength: 200 },
    role: { type: 'string', enum: [...ROLES] },
  },
} as JSONSchemaType<KeyRequest>);

const keyed = async <T>(run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    if (error instanceof KeyError) throw new ApiError(error.code, error.message);
    throw error;
  }
};

const keySchema = obj({
  id: int,
  name: str,
  role: strEnum(...ROLES),
  tokenPrefix: str,
  createdBy: str,
  createdAt: dateTime,
  revokedAt: nullable(dateTime),
  revokedBy: nullable(str),
});
describeRoute('POST /keys', {
  tag: 'Access',
  audience: 'admin',
  summary: 'Makes an API key; its token is shown this once',
  body: { schema: keyRequest.schema },
  responses: {
    201: {
      description: 'the key and its token',
      schema: {
        ...keySchema,
        required: [...(keySchema['required'] as string[]), 'token'],
        properties: { ...(keySchema['properties'] as object), token: str },
      },
    },
  },
  errors: ['key_name_taken', 'key_name_reserved'],
});
describeRoute('GET /keys', {
  tag: 'Access',
  audience: 'admin',
  summary: 'The API keys (never their tokens)',
  query: { revoked: { type: 'string', enum: ['true', 'false'], description: 'include revoked keys' } },
  responses: { 200: { description: 'keys', schema: obj({ keys: arr(keySchema) }) } },
});
describeRoute('DELETE /keys/:name', {
  tag: 'Access',
  audience: 'admin',
  summary: 'Revokes a key',
  responses: { 200: { description: 'the revoked key', schema: keySchema } },
  errors: ['key_not_found'],
});
describeRoute('GET /audit', {
  tag: 'Access',
  audience: 'compliance',
  summary: 'The audit log, newest first, paged by `next`',
  query: {
    profile: { type: 'string', format: 'uuid' },
    actor: { type: 'string' },
    action: { type: 'string', enum: [...AUDIT_ACTIONS] },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    cursor: { type: 'integer', minimum: 1, description: 'the `next` of the previous page' },
    before: { type: 'integer', minimum: 1, description: 'older name of `cursor`' },
    limit: limitQuery(100, 1000),
  },
  responses: {
    200: {
      description: 'a page of entries',
      schema: obj({
        entries: arr(
          obj({ id: int, at: dateTime, actor: str, action: str, profileId: nullable(uuid), reason: nullable(str), details: any }),
        ),
        next: nullable(int),
        truncated: bool,
      }),
    },
  },
  errors: ['invalid_request'],
});

function timeParam(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new ApiError('invalid_request', `${name} must be an ISO date or time`);
  return date;
}

/**
 * API keys (admin) and the audit log (compliance, admin).
 * - `POST /keys {name, role}` → 201 with the token, shown once; `GET /keys`; `DELETE /keys/:name`.
 * - `GET /audit?profile=&actor=&action=&from=&to=&limit=&cursor=` (`before=` too): newest first, paged by `next`.
 */
export function accessRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  return new Hono<AuthEnv>()
    .post('/keys', allow('admin'), async (c) => {
      const input = await keyRequest(c);
      const { key, token } = await keyed(() => createKey(db, { ...input, actor: c.get('caller').name, reason: reasonOf(c) }));
      return c.json({ ...key, token }, 201);
    })
    .get('/keys', allow('admin'), async (c) => c.json({ keys: await listKeys(db, { includeRevoked: c.req.query('revoked') === 'true' }) }))
    .delete('/keys/:name', allow('admin'), async (c) => {
      const key = await keyed(() => revokeKey(db, { name: c.req.param('name'), actor: c.get('caller').name, reason: reasonOf(c) }));
      return c.json(key);
    })
    .get('/audit', allow('compliance'), async (c) => {
      const { profile, actor, action, from, to } = c.req.query();
      const before = cursorOrOlder(c, 'before');
      if (profile !== undefined && !isUuid(profile)) throw new ApiError('invalid_request', 'profile must be a profile id');
      if (action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(action)) {
        throw new ApiError('invalid_request', `action must be one of ${AUDIT_ACTIONS.join(', ')}`);
      }
      if (before !== undefined && !/^[1-9][0-9]*$/.test(before))
        throw new ApiError('invalid_request', 'cursor (or before) must be the `next` of a previous page');
      const page = await queryAudit(db, {
        ...(profile ? { profile } : {}),
        ...(actor ? { actor } : {}),
        ...(action ? { action } : {}),
        ...(from ? { from: timeParam('from', from) as Date } : {}),
        ...(to ? { to: timeParam('to', to) as Date } : {}),
        ...(before ? { before: Number(before) } : {}),
        limit: pageLimit(c),
      });
      return c.json(page);
    });
}
