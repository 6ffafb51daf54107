import type { JSONSchemaType } from 'ajv';
import { type Context, Hono } from 'hono';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { audit } from '../access/audit.ts';
import { type AuthEnv, reasonOf } from '../access/auth.ts';
import { currentConsent } from '../consent/status.ts';
import type { Queryable, Tx } from '../db/database.ts';
import { isUuid } from '../db/sql.ts';
import { loadLineageHistory } from '../golden/lineage-history.ts';
import {
  findProfilesByKeys,
  listProfiles,
  loadConsentLedger,
  loadHistory,
  loadLineage,
  loadMatches,
  loadProfileViews,
} from '../golden/read.ts';
import { ApiError } from '../http/errors.ts';
import { any, arr, dateTime, describeRoute, int, limitQuery, nullable, obj, type Schema, str, uuid } from '../http/openapi.ts';
import { allow, profileFor } from '../http/roles.ts';
import { bodyValidator, cursorQuery, encodeCursor, pageLimit } from '../http/validate.ts';
import { forceMerge, splitProfile } from '../pipeline/decisions.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { DecisionError } from '../resolution/decide.ts';
import { resolveProfileId } from '../resolution/read.ts';

export interface MergeRequest {
  ids: string[];
  reason?: string;
}
export const mergeRequest = bodyValidator<MergeRequest>({
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: {
    ids: { type: 'array', minItems: 2, maxItems: 100, uniqueItems: true, items: { type: 'string', format: 'uuid' } },
    reason: { type: 'string', nullable: true, maxLength: 2000 },
  },
} as JSONSchemaType<MergeRequest>);

export interface SplitRequest {
  records: { source: string; recordId: string; object?: string }[];
  reason?: string;
}
export const splitRequest = bodyValidator<SplitRequest>({
  type: 'object',
  additionalProperties: false,
  required: ['records'],
  properties: {
    records: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', 'recordId'],
        properties: { source: { type: 'string' }, recordId: { type: 'string' }, object: { type: 'string', nullable: true } },
      },
    },
    reason: { type: 'string', nullable: true, maxLength: 2000 },
  },
} as JSONSchemaType<SplitRequest>);

/** A golden record as a route shows it: the person's fields, and `consent`/`sources` for the roles that see them. */
export const profileSchema: Schema = {
  type: 'object',
  required: ['id', 'version', 'createdAt', 'updatedAt'],
  properties: {
    id: uuid,
    version: int,
    createdAt: dateTime,
    updatedAt: dateTime,
    name: { type: 'object', properties: { given: str, family: str, full: str } },
    emails: arr(str),
    phones: arr(str),
    consent: arr({ type: 'object', required: ['purpose', 'status'], properties: { purpose: str, status: str } }),
    sources: arr(obj({ source: str, object: str, recordId: str })),
  },
};
const TAG = 'Profiles';
const idParam = 'a profile id (a retired id answers with its survivor)';
describeRoute('GET /profiles', {
  tag: TAG,
  audience: 'reader',
  summary: 'Lists live profiles newest first, searches them (`q`), or finds those holding an email, phone or external id',
  description:
    'Without email, phone or externalId: live profiles newest first; `q` searches by name (a word prefix, then a ' +
    'fuzzy match), email, phone or external id (system:id), exact key matches first. With email, phone or ' +
    'externalId: the profiles holding it, oldest first. Either way pass `next` back as `cursor`.',
  query: {
    q: { type: 'string', description: 'a name (prefix or fuzzy), email, phone or system:id' },
    email: { type: 'string' },
    phone: { type: 'string', description: 'parsed with AURUM_DEFAULT_REGION' },
    externalId: { type: 'string', description: 'system:id' },
    limit: limitQuery(100, 1000),
    cursor: { type: 'string', description: 'the `next` of the previous page' },
    after: {
      type: 'string',
      format: 'uuid',
      description: 'the `next` of the previous page of an email, phone or externalId search (older name of `cursor`)',
    },
  },
  responses: {
    200: {
      description: 'a page of profiles; `truncated` says the byte budget cut it',
      schema: obj({ profiles: arr(profileSchema), next: nullable(str), truncated: { type: 'boolean' } }),
    },
  },
  errors: ['invalid_request'],
});
describeRoute('GET /profiles/:id', {
  tag: TAG,
  audience: 'reader',
  summary: 'One golden record',
  description: idParam,
  responses: { 200: { description: 'the golden record', schema: profileSchema } },
  errors: ['profile_not_found'],
});
describeRoute('GET /profiles/:id/lineage', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Which source record gave each field, and (`?history=true`) how it changed',
  query: { history: { type: 'string', enum: ['true', 'false'] } },
  responses: { 200: { description: 'lineage', schema: obj({ id: uuid, fields: any, history: any }, ['history']) } },
  errors: ['profile_not_found'],
});
describeRoute('POST /profiles/merge', {
  tag: TAG,
  audience: 'ops',
  summary: 'Merges profiles by hand',
  body: { schema: mergeRequest.schema },
  responses: { 200: { description: 'the survivor', schema: obj({ profile: profileSchema, merged: any }) } },
  errors: ['profile_not_found'],
});
describeRoute('POST /profiles/:id/split', {
  tag: TAG,
  audience: 'ops',
  summary: 'Moves source records out of a profile into a new one',
  body: { schema: splitRequest.schema },
  responses: { 201: { description: 'both profiles', schema: obj({ profile: profileSchema, split: profileSchema, moved: any }) } },
  errors: ['profile_not_found'],
});
describeRoute('GET /profiles/:id/history', {
  tag: TAG,
  audience: 'records',
  summary: 'Merges and splits the profile took part in, oldest first',
  responses: {
    200: {
      description: 'its history',
      schema: obj({
        id: uuid,
        history: arr(obj({ kind: str, at: dateTime, actor: str, reason: nullable(str), profile: uuid, others: arr(uuid), details: any })),
      }),
    },
  },
  errors: ['profile_not_found'],
});
describeRoute('GET /profiles/:id/matches', {
  tag: TAG,
  audience: 'records',
  summary: 'The source records of a profile and how each was linked',
  responses: {
    200: {
      description: 'members and manual merges',
      schema: obj({
        id: uuid,
        members: arr(obj({ source: str, object: str, recordId: str, linkedBy: any })),
        manualMerges: arr(obj({ retiredIds: arr(uuid), actor: str, reason: nullable(str), at: dateTime })),
      }),
    },
  },
  errors: ['profile_not_found'],
});
describeRoute('GET /profiles/:id/consent', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Current consent per purpose and the consent ledger',
  responses: {
    200: {
      description: 'consent',
      schema: obj({
        id: uuid,
        purposes: arr({
          type: 'object',
          required: ['purpose', 'status', 'decidedBy'],
          properties: { purpose: str, status: str, decidedBy: { enum: ['entry', 'default'] } },
        }),
        ledger: arr({ type: 'object' }),
      }),
    },
  },
  errors: ['profile_not_found'],
});

export const decided = async <T>(run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DecisionError) throw new ApiError(error.code, error.message);
    throw error;
  }
};

export const emailKey = (email: string) => `email:${email.trim().toLowerCase()}`;
export const externalIdKey = (externalId: string): string | undefined => {
  const colon = externalId.indexOf(':');
  if (colon < 1 || colon === externalId.length - 1) return undefined;
  return `ext:${externalId.slice(0, colon)}:${externalId.slice(colon + 1)}`;
};
/** Keys, as a query may mean any of them: what `q` could be besides a name. */
const queryKeys = (q: string, phoneKey: (phone: string) => string | undefined): string[] => {
  const keys: string[] = [];
  if (q.includes('@')) keys.push(emailKey(q));
  else if (/^\+?[\d\s().-]{6,}$/.test(q)) {
    const key = phoneKey(q);
    if (key) keys.push(key);
  }
  const ext = q.includes(' ') ? undefined : externalIdKey(q);
  if (ext) keys.push(ext);
  return keys;
};

/**
 * Profiles. Who may call: every role reads profiles (a reader without consent or member record
 * ids: `profileFor`); ops and compliance read their matches and history; ops merges and splits;
 * compliance reads lineage and consent (admin everything). Every read of a person's data
 * is audited in the transaction that reads it, so no read goes unrecorded.
 */
export function profileRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const active = async (tx: Queryable, id: string) => {
    const resolved = await resolveProfileId(tx, id);
    if (!resolved) throw new ApiError('profile_not_found', `there is no profile ${id}`);
    return resolved;
  };
  /** Reads in a transaction that also records the read of each profile it returns. */
  const auditedRead = <T>(c: Context<AuthEnv>, view: string, read: (tx: Tx) => Promise<{ result: T; profileIds: string[] }>) =>
    db.transaction(async (tx) => {
      const { result, profileIds } = await read(tx);
      const actor = c.get('caller').name;
      const reason = reasonOf(c);
      await audit(tx, ...profileIds.map((profileId) => ({ actor, action: 'profile.read' as const, profileId, reason, details: { view } })));
      return result;
    });
  /** A read of one profile, by the id asked for (a retired id answers with its survivor). */
  const readOne = <T>(c: Context<AuthEnv>, view: string, read: (tx: Tx, id: string) => Promise<T>) =>
    auditedRead(c, view, async (tx) => {
      const id = await active(tx, c.req.param('id') as string);
      return { result: await read(tx, id), profileIds: [id] };
    });

  const phoneKey = (phone: string): string | undefined => {
    const parsed = parsePhoneNumberFromString(phone, ctx.settings.defaultRegion as CountryCode | undefined);
    return parsed?.isValid() ? `phone:${parsed.number}` : undefined;
  };
  /** `GET /profiles` without a key: every live profile, newest first, or those `q` finds. */
  const listing = async (c: Context<AuthEnv>) => {
    const q = (c.req.query('q') ?? '').trim();
    const query = q ? { keys: queryKeys(q, phoneKey), name: q.toLowerCase().replace(/\s+/g, ' ') } : undefined;
    const cursor = cursorQuery(c, ['number', 'number']);
    const after = cursor ? { rank: Number(cursor[0]), seq: Number(cursor[1]) } : undefined;
    const page = await auditedRead(c, q ? 'search' : 'list', async (tx) => {
      const found = await listProfiles(tx, query, { limit: pageLimit(c), ...(after ? { after } : {}) });
      return { result: found, profileIds: found.profiles.map((p) => p.id) };
    });
    const role = c.get('caller').role;
    return c.json({
      profiles: page.profiles.map((p) => profileFor(role, p)),
      next: page.next && encodeCursor([page.next.rank, page.next.seq]),
      truncated: page.truncated,
    });
  };

  return new Hono<AuthEnv>()
    .get('/profiles', allow('reader'), async (c) => {
      const { email, phone, externalId } = c.req.query();
      if (email === undefined && phone === undefined && externalId === undefined) return listing(c);
      const keys: string[] = [];
      if (email) keys.push(emailKey(email));
      if (phone) {
        const key = phoneKey(phone);
        if (!key) throw new ApiError('invalid_request', 'phone is not a valid phone number');
        keys.push(key);
      }
      if (externalId) {
        const key = externalIdKey(externalId);
        if (!key) throw new ApiError('invalid_request', 'externalId must be system:id');
        keys.push(key);
      }
      if (keys.length === 0) throw new ApiError('invalid_request', 'query by email, phone or externalId=system:id');
      // `cursor` is this list's `next` as every list takes it; `after` is its documented older name.
      const after = c.req.query('cursor') || c.req.query('after');
      if (after !== undefined && after !== '' && !isUuid(after)) throw new ApiError('invalid_request', 'after must be a profile id');
      const page = await auditedRead(c, 'search', async (tx) => {
        const found = await findProfilesByKeys(tx, keys, { limit: pageLimit(c), ...(after ? { after } : {}) });
        return { result: found, profileIds: found.profiles.map((p) => p.id) };
      });
      const role = c.get('caller').role;
      return c.json({ profiles: page.profiles.map((p) => profileFor(role, p)), next: page.next, truncated: page.truncated });
    })
    .get('/profiles/:id', allow('reader'), async (c) => {
      const profile = await readOne(c, 'profile', async (tx, id) => (await loadProfileViews(tx, [id]))[0]);
      if (!profile) throw new ApiError('profile_not_found', `there is no profile ${c.req.param('id')}`);
      return c.json(profileFor(c.get('caller').role, profile));
    })
    .get('/profiles/:id/lineage', allow('compliance'), async (c) => {
      const history = c.req.query('history') === 'true';
      return c.json(
        await readOne(c, history ? 'lineage-history' : 'lineage', async (tx, id) => ({
          id,
          fields: await loadLineage(tx, id),
          ...(history ? { history: await loadLineageHistory(tx, id) } : {}),
        })),
      );
    })
    .post('/profiles/merge', allow('ops'), async (c) => {
      const input = await mergeRequest(c);
      const actor = { name: c.get('caller').name, reason: reasonOf(c, input.reason) };
      const result = await decided(() => forceMerge(ctx, input.ids, actor));
      const [profile] = await loadProfileViews(db, [result.id]);
      return c.json({ profile: profile && profileFor(c.get('caller').role, profile), merged: result.merged });
    })
    .post('/profiles/:id/split', allow('ops'), async (c) => {
      const input = await splitRequest(c);
      const actor = { name: c.get('caller').name, reason: reasonOf(c, input.reason) };
      const result = await decided(() => splitProfile(ctx, c.req.param('id'), input.records, actor));
      const views = await loadProfileViews(db, [result.id, result.newId]);
      const view = (id: string) => {
        const found = views.find((v) => v.id === id);
        return found && profileFor(c.get('caller').role, found);
      };
      return c.json({ profile: view(result.id), split: view(result.newId), moved: result.moved }, 201);
    })
    .get('/profiles/:id/history', allow('records'), async (c) =>
      c.json(await readOne(c, 'history', async (tx, id) => ({ id, history: await loadHistory(tx, id) }))),
    )
    .get('/profiles/:id/matches', allow('records'), async (c) => c.json(await readOne(c, 'matches', async (tx, id) => loadMatches(tx, id))))
    .get('/profiles/:id/consent', allow('compliance'), async (c) =>
      c.json(
        await readOne(c, 'consent', async (tx, id) => {
          const ledger = await loadConsentLedger(tx, id);
          const current = currentConsent(ledger.map((e) => ({ ...e, at: new Date(e.at) })));
          // Declared purposes the ledger says nothing of stand at their default.
          const purposes = ctx.workspace().purposes;
          const defaulted = purposes.declared
            .filter((p) => !p.name.endsWith('.*') && !current.some((c) => c.purpose === p.name))
            .map((p) => ({ purpose: p.name, status: p.default, decidedBy: 'default' as const }));
          return { id, purposes: [...current.map((c) => ({ ...c, decidedBy: 'entry' as const })), ...defaulted], ledger };
        }),
      ),
    );
}
