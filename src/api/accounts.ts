import { type Context, Hono } from 'hono';
import { audit } from '../access/audit.ts';
import { type AuthEnv, reasonOf } from '../access/auth.ts';
import type { Queryable, Tx } from '../db/database.ts';
import { isUuid } from '../db/sql.ts';
import { loadLineageHistory } from '../golden/lineage-history.ts';
import {
  type AccountView,
  findProfilesByKeys,
  listProfiles,
  loadAccountViews,
  loadHistory,
  loadLineage,
  loadMatches,
} from '../golden/read.ts';
import { ApiError } from '../http/errors.ts';
import { any, arr, dateTime, describeRoute, int, limitQuery, nullable, obj, type Schema, str, uuid } from '../http/openapi.ts';
import { allow, profileFor } from '../http/roles.ts';
import { cursorQuery, encodeCursor, pageLimit } from '../http/validate.ts';
import { companyNameKey } from '../mapping/company-names.ts';
import { normaliseHost } from '../mapping/domains.ts';
import { registrationId as normaliseRegistrationId } from '../mapping/fields.ts';
import { forceMerge, splitProfile } from '../pipeline/decisions.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { DecisionError } from '../resolution/decide.ts';
import { membershipsOfPerson, membersOf } from '../resolution/memberships.ts';
import { resolveProfileId } from '../resolution/read.ts';
import { externalIdKey, mergeRequest, splitRequest } from './profiles.ts';

const member = obj({ profileId: uuid, role: nullable(str), source: str, validFrom: dateTime });
/** An account's golden record as the routes show it: `sources` for the roles that see member records. */
export const accountSchema: Schema = {
  type: 'object',
  required: ['id', 'version', 'createdAt', 'updatedAt'],
  properties: {
    id: uuid,
    version: int,
    createdAt: dateTime,
    updatedAt: dateTime,
    name: str,
    domains: arr(str),
    emails: arr(str),
    phones: arr(str),
    externalIds: { type: 'object', additionalProperties: str },
    registrationIds: { type: 'object', additionalProperties: str },
    industry: str,
    sources: arr(obj({ source: str, object: str, recordId: str })),
  },
};
const TAG = 'Accounts';
const idParam = 'an account id (a retired id answers with its survivor)';
describeRoute('GET /accounts', {
  tag: TAG,
  audience: 'reader',
  summary: 'Lists live accounts newest first, or finds them by domain, external id or name',
  description:
    '`domain` (a host or URL), `externalId` (system:id) and `registrationId` (scheme:id) find the accounts holding it, oldest first; ' +
    '`q` searches names (the name without its legal form, a word prefix, then a fuzzy match) and keys; without any, every live account newest first. Pass `next` back as `cursor`.',
  query: {
    domain: { type: 'string' },
    externalId: { type: 'string', description: 'system:id' },
    registrationId: { type: 'string', description: 'scheme:id, as `vat:GB123456789` (spaces, dots, dashes and case ignored)' },
    q: { type: 'string', description: 'a name (prefix or fuzzy), a domain or system:id' },
    limit: limitQuery(100, 1000),
    cursor: { type: 'string', description: 'the `next` of the previous page' },
  },
  responses: {
    200: {
      description: 'a page of accounts; `truncated` says the byte budget cut it',
      schema: obj({ accounts: arr(accountSchema), next: nullable(str), truncated: { type: 'boolean' } }),
    },
  },
  errors: ['invalid_request'],
});
describeRoute('GET /accounts/:id', {
  tag: TAG,
  audience: 'reader',
  summary: 'One account’s golden record, with its members',
  description: idParam,
  responses: {
    200: {
      description: 'the golden record and `members`',
      schema: { ...accountSchema, properties: { ...(accountSchema['properties'] as Record<string, Schema>), members: arr(member) } },
    },
  },
  errors: ['account_not_found'],
});
describeRoute('GET /accounts/:id/lineage', {
  tag: TAG,
  audience: 'compliance',
  summary: 'Which source record gave each field, and (`?history=true`) how it changed',
  query: { history: { type: 'string', enum: ['true', 'false'] } },
  responses: { 200: { description: 'lineage', schema: obj({ id: uuid, fields: any, history: any }, ['history']) } },
  errors: ['account_not_found'],
});
describeRoute('GET /accounts/:id/matches', {
  tag: TAG,
  audience: 'records',
  summary: 'The source records of an account and how each was linked',
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
  errors: ['account_not_found'],
});
describeRoute('GET /accounts/:id/history', {
  tag: TAG,
  audience: 'records',
  summary: 'Merges and splits the account took part in, oldest first',
  responses: {
    200: {
      description: 'its history',
      schema: obj({
        id: uuid,
        history: arr(obj({ kind: str, at: dateTime, actor: str, reason: nullable(str), profile: uuid, others: arr(uuid), details: any })),
      }),
    },
  },
  errors: ['account_not_found'],
});
describeRoute('POST /accounts/merge', {
  tag: TAG,
  audience: 'ops',
  summary: 'Merges accounts by hand (never a person with an account)',
  body: { schema: mergeRequest.schema },
  responses: { 200: { description: 'the survivor', schema: obj({ account: accountSchema, merged: any }) } },
  errors: ['account_not_found'],
});
describeRoute('POST /accounts/:id/split', {
  tag: TAG,
  audience: 'ops',
  summary: 'Moves source records out of an account into a new one',
  body: { schema: splitRequest.schema },
  responses: { 201: { description: 'both accounts', schema: obj({ account: accountSchema, split: accountSchema, moved: any }) } },
  errors: ['account_not_found'],
});
describeRoute('GET /profiles/:id/accounts', {
  tag: 'Profiles',
  audience: 'reader',
  summary: 'The accounts a person belongs to, and belonged to',
  description:
    'Each membership a source states, with the account it resolves to (`accountId`: null until that account arrives, ' +
    'or while several accounts answer to it, `ambiguous`). ' +
    '`validTo` is set once the source stopped stating it.',
  responses: {
    200: {
      description: 'memberships, open ones first',
      schema: obj({
        id: uuid,
        accounts: arr(
          obj({
            accountId: nullable(uuid),
            ambiguous: { type: 'boolean' },
            ref: any,
            role: nullable(str),
            source: str,
            validFrom: dateTime,
            validTo: nullable(dateTime),
          }),
        ),
      }),
    },
  },
  errors: ['profile_not_found'],
});

/** DecisionError names profiles; on these routes the thing not found is an account. */
const decidedAccount = async <T>(run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DecisionError) {
      throw new ApiError(error.code === 'profile_not_found' ? 'account_not_found' : error.code, error.message);
    }
    throw error;
  }
};

/**
 * Accounts (companies, organisations). Who may call: as for profiles. Every role reads accounts
 * and a person's memberships (a reader without member record ids); ops and compliance read matches
 * and history; ops merges and splits; compliance reads lineage. Reads are audited (`account.read`;
 * `profile.read` for a person's memberships) in the transaction that reads them.
 */
export function accountRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const auditedRead = <T>(c: Context<AuthEnv>, view: string, read: (tx: Tx, id: string) => Promise<T>) =>
    db.transaction(async (tx) => {
      const asked = c.req.param('id') as string;
      const id = await resolveProfileId(tx, asked, 'account');
      if (!id) throw new ApiError('account_not_found', `there is no account ${asked}`);
      const result = await read(tx, id);
      await audit(tx, { actor: c.get('caller').name, action: 'account.read', profileId: id, reason: reasonOf(c), details: { view } });
      return result;
    });
  const withMembers = async (tx: Queryable, id: string) => {
    const [account] = await loadAccountViews(tx, [id]);
    if (!account) throw new ApiError('account_not_found', `there is no account ${id}`);
    return { ...account, members: (await membersOf(tx, [id])).get(id) ?? [] };
  };
  const shown = (c: Context<AuthEnv>, account: AccountView) => profileFor(c.get('caller').role, account as never) as unknown as AccountView;

  return new Hono<AuthEnv>()
    .get('/accounts', allow('reader'), async (c) => {
      const { domain, externalId, registrationId } = c.req.query();
      const q = (c.req.query('q') ?? '').trim();
      const role = c.get('caller').role;
      if (domain !== undefined || externalId !== undefined || registrationId !== undefined) {
        const keys: string[] = [];
        if (domain !== undefined) {
          const host = normaliseHost(domain);
          if (!host) throw new ApiError('invalid_request', 'domain is not a domain or a URL with one');
          keys.push(`a:domain:${host}`);
        }
        if (externalId !== undefined) {
          const key = externalIdKey(externalId);
          if (!key) throw new ApiError('invalid_request', 'externalId must be system:id');
          keys.push(`a:${key}`);
        }
        if (registrationId !== undefined) {
          const colon = registrationId.indexOf(':');
          if (colon < 1 || colon === registrationId.length - 1) throw new ApiError('invalid_request', 'registrationId must be scheme:id');
          keys.push(`a:reg:${registrationId.slice(0, colon)}:${normaliseRegistrationId(registrationId.slice(colon + 1))}`);
        }
        const after = c.req.query('cursor');
        if (after !== undefined && after !== '' && !isUuid(after))
          throw new ApiError('invalid_request', 'cursor is not a `next` this list gave');
        const page = await findProfilesByKeys(db, keys, { limit: pageLimit(c), ...(after ? { after } : {}) }, 'account');
        return c.json({
          accounts: page.profiles.map((a) => shown(c, a as unknown as AccountView)),
          next: page.next,
          truncated: page.truncated,
        });
      }
      const cursor = cursorQuery(c, ['number', 'number']);
      const after = cursor ? { rank: Number(cursor[0]), seq: Number(cursor[1]) } : undefined;
      const query = q ? { keys: accountQueryKeys(q), name: q.toLowerCase().replace(/\s+/g, ' ') } : undefined;
      const page = await listProfiles(db, query, { limit: pageLimit(c), ...(after ? { after } : {}) }, 'account');
      return c.json({
        accounts: page.profiles.map((a) => profileFor(role, a)),
        next: page.next && encodeCursor([page.next.rank, page.next.seq]),
        truncated: page.truncated,
      });
    })
    .get('/accounts/:id', allow('reader'), async (c) => c.json(shown(c, await auditedRead(c, 'account', withMembers))))
    .get('/accounts/:id/lineage', allow('compliance'), async (c) => {
      const history = c.req.query('history') === 'true';
      return c.json(
        await auditedRead(c, history ? 'lineage-history' : 'lineage', async (tx, id) => ({
          id,
          fields: await loadLineage(tx, id),
          ...(history ? { history: await loadLineageHistory(tx, id) } : {}),
        })),
      );
    })
    .get('/accounts/:id/matches', allow('records'), async (c) => c.json(await auditedRead(c, 'matches', loadMatches)))
    .get('/accounts/:id/history', allow('records'), async (c) =>
      c.json(await auditedRead(c, 'history', async (tx, id) => ({ id, history: await loadHistory(tx, id) }))),
    )
    .post('/accounts/merge', allow('ops'), async (c) => {
      const input = await mergeRequest(c);
      const actor = { name: c.get('caller').name, reason: reasonOf(c, input.reason) };
      const result = await decidedAccount(() => forceMerge(ctx, input.ids, actor, 'account'));
      const account = await withMembers(db, result.id);
      return c.json({ account: shown(c, account), merged: result.merged });
    })
    .post('/accounts/:id/split', allow('ops'), async (c) => {
      const input = await splitRequest(c);
      const actor = { name: c.get('caller').name, reason: reasonOf(c, input.reason) };
      const result = await decidedAccount(() => splitProfile(ctx, c.req.param('id'), input.records, actor, 'account'));
      return c.json(
        { account: shown(c, await withMembers(db, result.id)), split: shown(c, await withMembers(db, result.newId)), moved: result.moved },
        201,
      );
    })
    .get('/profiles/:id/accounts', allow('reader'), async (c) =>
      c.json(
        await db.transaction(async (tx) => {
          const asked = c.req.param('id');
          const id = await resolveProfileId(tx, asked);
          if (!id) throw new ApiError('profile_not_found', `there is no profile ${asked}`);
          const accounts = await membershipsOfPerson(tx, id);
          await audit(tx, {
            actor: c.get('caller').name,
            action: 'profile.read',
            profileId: id,
            reason: reasonOf(c),
            details: { view: 'accounts' },
          });
          return { id, accounts };
        }),
      ),
    );
}

/** What `q` could be besides a name: a domain, or an external id. */
function accountQueryKeys(q: string): string[] {
  const keys: string[] = [];
  const host = !q.includes(' ') && q.includes('.') ? normaliseHost(q) : undefined;
  if (host) keys.push(`a:domain:${host}`);
  const ext = q.includes(' ') ? undefined : externalIdKey(q);
  if (ext) keys.push(`a:${ext}`);
  // The name as resolution compares it: "ACME Limited" finds "Acme Ltd".
  keys.push(`a:name:${companyNameKey(q)}`);
  return keys;
}
