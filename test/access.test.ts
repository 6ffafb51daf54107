/**
 * Roles on every route, API keys made through the API, and the audit log: what it records, how it
 * is queried, and that nothing can rewrite it.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { type ROLE_KEYS, startTestHub, type TestHub } from './helpers/hub.ts';

type Role = keyof typeof ROLE_KEYS;
type Audience = 'reader' | 'ops' | 'records' | 'compliance' | 'admin';
const ROLES: Role[] = ['reader', 'ops', 'compliance', 'admin'];
const admits: Record<Audience, Role[]> = {
  reader: ['reader', 'ops', 'compliance', 'admin'],
  ops: ['ops', 'admin'],
  records: ['ops', 'compliance', 'admin'],
  compliance: ['compliance', 'admin'],
  admin: ['admin'],
};

const NO_PROFILE = '00000000-0000-4000-8000-000000000000';
/**
 * Every authenticated route and who it is for. A route added to the app without a row here fails
 * the test below, so the matrix cannot fall behind the API.
 */
const MATRIX: [method: string, route: string, audience: Audience, path: string][] = [
  ['GET', '/profiles', 'reader', '/profiles?email=nobody@example.com'],
  ['GET', '/profiles/:id', 'reader', `/profiles/${NO_PROFILE}`],
  ['GET', '/profiles/:id/matches', 'records', `/profiles/${NO_PROFILE}/matches`],
  ['GET', '/profiles/:id/history', 'records', `/profiles/${NO_PROFILE}/history`],
  ['GET', '/profiles/:id/lineage', 'compliance', `/profiles/${NO_PROFILE}/lineage`],
  ['GET', '/profiles/:id/consent', 'compliance', `/profiles/${NO_PROFILE}/consent`],
  ['GET', '/profiles/:id/export', 'compliance', `/profiles/${NO_PROFILE}/export`],
  ['GET', '/records/:source/:recordId', 'compliance', '/records/no-such-source/r1'],
  ['POST', '/profiles/:id/erase', 'compliance', `/profiles/${NO_PROFILE}/erase`],
  ['GET', '/erasures', 'compliance', '/erasures'],
  ['GET', '/consent', 'compliance', '/consent?purpose=marketing&status=granted'],
  ['GET', '/erasures/:id/suppressions', 'compliance', `/erasures/${NO_PROFILE}/suppressions`],
  ['POST', '/profiles/merge', 'ops', '/profiles/merge'],
  ['POST', '/profiles/:id/split', 'ops', `/profiles/${NO_PROFILE}/split`],
  ['GET', '/profiles/:id/accounts', 'reader', `/profiles/${NO_PROFILE}/accounts`],
  ['GET', '/accounts', 'reader', '/accounts?domain=nobody.example'],
  ['GET', '/accounts/:id', 'reader', `/accounts/${NO_PROFILE}`],
  ['GET', '/accounts/:id/matches', 'records', `/accounts/${NO_PROFILE}/matches`],
  ['GET', '/accounts/:id/history', 'records', `/accounts/${NO_PROFILE}/history`],
  ['GET', '/accounts/:id/lineage', 'compliance', `/accounts/${NO_PROFILE}/lineage`],
  ['POST', '/accounts/merge', 'ops', '/accounts/merge'],
  ['POST', '/accounts/:id/split', 'ops', `/accounts/${NO_PROFILE}/split`],
  ['GET', '/sources', 'ops', '/sources'],
  ['POST', '/sources/:source/sync', 'ops', '/sources/no-such-source/sync'],
  ['GET', '/sources/:source/runs', 'ops', '/sources/no-such-source/runs'],
  ['POST', '/sources/:source/import', 'ops', '/sources/no-such-source/import'],
  ['GET', '/imports', 'ops', '/imports'],
  ['GET', '/imports/:id', 'ops', `/imports/${NO_PROFILE}`],
  ['GET', '/quarantine', 'ops', '/quarantine?status=nonsense'],
  ['POST', '/quarantine/replay', 'ops', '/quarantine/replay'],
  ['GET', '/quality/violations', 'ops', '/quality/violations'],
  ['GET', '/destinations', 'ops', '/destinations'],
  ['POST', '/destinations', 'ops', '/destinations'],
  ['GET', '/destinations/:id', 'ops', `/destinations/${NO_PROFILE}`],
  ['GET', '/destinations/:id/deliveries', 'ops', `/destinations/${NO_PROFILE}/deliveries`],
  ['PATCH', '/destinations/:id', 'ops', `/destinations/${NO_PROFILE}`],
  ['DELETE', '/destinations/:id', 'ops', `/destinations/${NO_PROFILE}`],
  ['POST', '/destinations/:id/rotate-secret', 'ops', `/destinations/${NO_PROFILE}/rotate-secret`],
  ['GET', '/destinations/:id/dead-letters', 'ops', `/destinations/${NO_PROFILE}/dead-letters`],
  ['POST', '/destinations/:id/replay', 'ops', `/destinations/${NO_PROFILE}/replay`],
  ['POST', '/destinations/:id/backfill', 'ops', `/destinations/${NO_PROFILE}/backfill`],
  ['GET', '/destinations/:id/backfill', 'ops', `/destinations/${NO_PROFILE}/backfill`],
  ['GET', '/identity/model', 'ops', '/identity/model'],
  ['POST', '/identity/train', 'ops', '/identity/train'],
  ['GET', '/rebuilds', 'ops', '/rebuilds'],
  ['GET', '/rebuilds/:id', 'ops', `/rebuilds/${NO_PROFILE}`],
  ['POST', '/rebuilds', 'ops', '/rebuilds'],
  ['GET', '/audit', 'compliance', '/audit?action=nonsense'],
  ['POST', '/keys', 'admin', '/keys'],
  ['GET', '/keys', 'admin', '/keys'],
  ['DELETE', '/keys/:name', 'admin', '/keys/no-such-key'],
];
/** Routes that take no API key: their own authentication, or none. */
const OPEN = ['GET /health', 'GET /openapi.json', 'GET /docs', 'GET /webhooks/:source', 'POST /webhooks/:source'];

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t?.stop();
});

/** An empty or invalid body: a permitted caller gets a validation error, never a side effect. */
const as = (role: Role | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  t.as(role, method, path, method === 'GET' || method === 'DELETE' ? undefined : (body ?? {}), headers);

describe('roles', () => {
  it('the matrix names every route the app serves', () => {
    const served = new Set(t.hub.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    const named = new Set([...MATRIX.map(([m, r]) => `${m} ${r}`), ...OPEN]);
    expect([...served].filter((r) => !named.has(r))).toEqual([]);
    expect([...named].filter((r) => !served.has(r))).toEqual([]);
  });

  it.each(MATRIX)('%s %s: %s and up may call it; other roles get 403, no key 401', async (method, _route, audience, path) => {
    const anonymous = await as(undefined, method, path);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
    for (const role of ROLES) {
      const response = await as(role, method, path);
      if (admits[audience].includes(role)) {
        expect([401, 403], `${role} ${method} ${path}`).not.toContain(response.status);
      } else {
        expect(response.status, `${role} ${method} ${path}`).toBe(403);
        expect(await response.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining(role) } });
      }
    }
  });

  it('webhooks take no key: the signature is the authentication', async () => {
    const response = await t.postWebhook('crm', JSON.stringify({ id: 'c-roles-1', email: 'roles@example.com' }));
    expect(response.status).toBe(202);
    expect((await t.hub.app.request('/health')).status).toBe(200);
  });
});

describe('API keys through the API', () => {
  it('an admin makes a key, whose token works with its role at once, and revokes it', async () => {
    const made = await as('admin', 'POST', '/keys', { name: 'support-desk', role: 'reader' }, { 'x-aurum-reason': 'ticket 42' });
    expect(made.status).toBe(201);
    const key = (await made.json()) as { token: string; name: string; role: string; tokenPrefix: string };
    expect(key).toMatchObject({ name: 'support-desk', role: 'reader', token: expect.stringMatching(/^aurum_[A-Za-z0-9_-]{43}$/) });
    expect(key.token.startsWith(key.tokenPrefix)).toBe(true);
    const call = (path: string) => t.hub.app.request(path, { headers: { authorization: `Bearer ${key.token}` } });
    expect((await call('/profiles?email=nobody@example.com')).status).toBe(200);
    expect((await call('/sources')).status).toBe(403);

    // Only the hash is stored.
    const rows = rowsOf<{ token_hash: string }>(
      await t.testDb.database.db.execute(sql`select token_hash from api_keys where name = 'support-desk'`),
    );
    expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await t.count(`api_keys where token_hash = '${key.token}' or token_prefix = '${key.token}'`)).toBe(0);

    const listed = (await (await as('admin', 'GET', '/keys')).json()) as { keys: Record<string, unknown>[] };
    expect(listed.keys).toContainEqual(expect.objectContaining({ name: 'support-desk', role: 'reader', createdBy: 'env:admin' }));
    expect(JSON.stringify(listed)).not.toContain(key.token);

    expect((await as('admin', 'POST', '/keys', { name: 'support-desk', role: 'ops' })).status).toBe(409);
    expect((await as('admin', 'POST', '/keys', { name: 'has space', role: 'ops' })).status).toBe(400);
    expect((await as('admin', 'POST', '/keys', { name: 'x', role: 'king' })).status).toBe(400);

    const revoked = await as('admin', 'DELETE', '/keys/support-desk');
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ name: 'support-desk', revokedBy: 'env:admin', revokedAt: expect.any(String) });
    expect((await call('/profiles?email=nobody@example.com')).status).toBe(401);
    expect((await as('admin', 'DELETE', '/keys/support-desk')).status).toBe(404);

    const audit = (await (await as('compliance', 'GET', '/audit?actor=env:admin')).json()) as { entries: Record<string, unknown>[] };
    expect(audit.entries.map((e) => e['action'])).toEqual(expect.arrayContaining(['key.created', 'key.revoked']));
    expect(audit.entries.find((e) => e['action'] === 'key.created')).toMatchObject({
      reason: 'ticket 42',
      details: { key: 'support-desk', role: 'reader' },
    });
  });
});

describe('what each role sees of a golden record', () => {
  it('a reader gets the person without consent or member record ids; compliance and admin get both, ops the records', async () => {
    const record = {
      id: 'c-view-1',
      email: 'vera.view@example.com',
      first_name: 'Vera',
      marketing_opt_in: true,
      updated_at: '2024-01-01T00:00:00Z',
    };
    expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    await t.settle();
    const search = async (role: Role) =>
      ((await (await as(role, 'GET', '/profiles?email=vera.view@example.com')).json()) as { profiles: Record<string, unknown>[] })
        .profiles[0] as Record<string, unknown>;
    const id = (await search('admin'))['id'] as string;
    const one = async (role: Role) => (await (await as(role, 'GET', `/profiles/${id}`)).json()) as Record<string, unknown>;
    for (const view of [await search('reader'), await one('reader')]) {
      expect(view).toMatchObject({ id, emails: ['vera.view@example.com'], name: { given: 'Vera' } });
      expect(view).not.toHaveProperty('consent');
      expect(view).not.toHaveProperty('sources');
    }
    for (const role of ['compliance', 'admin'] as const) {
      for (const view of [await search(role), await one(role)]) {
        expect(view['consent'], role).toEqual([expect.objectContaining({ purpose: 'marketing', status: 'granted' })]);
        expect(view['sources'], role).toEqual([{ source: 'crm', object: 'contact', recordId: 'c-view-1' }]);
      }
    }
    const ops = await one('ops');
    expect(ops['sources']).toEqual([{ source: 'crm', object: 'contact', recordId: 'c-view-1' }]);
    expect(ops).not.toHaveProperty('consent');
    // The routes that list member records are closed to readers, as /consent is.
    expect((await as('reader', 'GET', `/profiles/${id}/matches`)).status).toBe(403);
    expect((await as('reader', 'GET', `/profiles/${id}/history`)).status).toBe(403);
  });
});

describe('profile search pages', () => {
  it('pages the profiles holding a key with limit and next, oldest first', async () => {
    for (const id of ['c-page-1', 'c-page-2']) {
      expect((await t.postWebhook('crm', JSON.stringify({ id, email: 'shared.page@example.com', first_name: id }))).status).toBe(202);
      await t.settle();
    }
    const search = async (query: string) =>
      (await (await as('reader', 'GET', `/profiles?email=shared.page@example.com${query}`)).json()) as {
        profiles: { id: string }[];
        next: string | null;
        truncated: boolean;
      };
    const [merged] = (await search('')).profiles;
    // Split apart, both profiles hold the shared email.
    const split = await as('ops', 'POST', `/profiles/${merged?.id}/split`, { records: [{ source: 'crm', recordId: 'c-page-2' }] });
    expect(split.status).toBe(201);
    const both = await search('');
    expect(both.profiles).toHaveLength(2);
    expect(both).toMatchObject({ next: null, truncated: false });
    const first = await search('&limit=1');
    expect(first.profiles.map((p) => p.id)).toEqual([both.profiles[0]?.id]);
    expect(first).toMatchObject({ next: both.profiles[0]?.id, truncated: false });
    const second = await search(`&limit=1&after=${first.next}`);
    expect(second.profiles.map((p) => p.id)).toEqual([both.profiles[1]?.id]);
    expect(second.next).toBeNull();
    expect((await as('reader', 'GET', '/profiles?email=shared.page@example.com&after=nope')).status).toBe(400);
  });
});

describe('reserved key names', () => {
  it.each(['aurum', 'cli', 'CLI', 'env:admin', 'env:ops-2', 'source:crm', 'cli:dana'])(
    '%s is refused as a key name: it is an actor the hub itself signs the audit log as',
    async (name) => {
      const response = await as('admin', 'POST', '/keys', { name, role: 'admin' });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'key_name_reserved', message: expect.stringContaining('reserved') } });
      expect(await t.count(`api_keys where lower(name) = lower('${name}')`)).toBe(0);
    },
  );

  it('names that merely contain a reserved word are fine', async () => {
    expect((await as('admin', 'POST', '/keys', { name: 'aurum-ops-bot', role: 'ops' })).status).toBe(201);
    expect((await as('admin', 'POST', '/keys', { name: 'client', role: 'reader' })).status).toBe(201);
  });
});

describe('audit log', () => {
  const post = (id: string, email: string, first: string) =>
    t.postWebhook('crm', JSON.stringify({ id, email, first_name: first, last_name: 'Audit' }));

  it('records each read of a profile, by whom, why, and which view; never the query itself', async () => {
    expect((await post('c-audit-1', 'ada.audit@example.com', 'Ada')).status).toBe(202);
    await t.settle();
    const search = await as('reader', 'GET', '/profiles?email=ada.audit@example.com', undefined, { 'x-aurum-reason': 'customer call' });
    const [profile] = ((await search.json()) as { profiles: { id: string }[] }).profiles;
    expect(profile).toBeDefined();
    const id = (profile as { id: string }).id;
    await as('reader', 'GET', `/profiles/${id}`);
    await as('compliance', 'GET', `/profiles/${id}/lineage`);
    await as('compliance', 'GET', `/profiles/${id}/consent`);

    const { entries } = (await (await as('compliance', 'GET', `/audit?profile=${id}`)).json()) as { entries: Record<string, any>[] };
    expect(entries.map((e) => [e['actor'], e['action'], e['details']?.view])).toEqual([
      ['env:compliance', 'profile.read', 'consent'],
      ['env:compliance', 'profile.read', 'lineage'],
      ['env:reader', 'profile.read', 'profile'],
      ['env:reader', 'profile.read', 'search'],
    ]);
    expect(entries[3]).toMatchObject({ profileId: id, reason: 'customer call', at: expect.any(String) });
    expect(JSON.stringify(entries)).not.toContain('ada.audit@example.com');
  });

  it('records merges and splits with their actor and reason, and the pipeline’s own merges as aurum', async () => {
    await post('c-audit-2', 'bob.audit@example.com', 'Bob');
    await post('c-audit-3', 'cy.audit@example.com', 'Cy');
    await t.settle();
    const idOf = async (email: string) =>
      ((await (await as('reader', 'GET', `/profiles?email=${email}`)).json()) as { profiles: { id: string }[] }).profiles[0]?.id as string;
    const [bob, cy] = [await idOf('bob.audit@example.com'), await idOf('cy.audit@example.com')];
    const merged = await as('ops', 'POST', '/profiles/merge', { ids: [bob, cy] }, { 'x-aurum-reason': 'same person, per ticket 7' });
    expect(merged.status).toBe(200);
    const survivor = ((await merged.json()) as { profile: { id: string } }).profile.id;
    const split = await as('ops', 'POST', `/profiles/${survivor}/split`, {
      records: [{ source: 'crm', recordId: 'c-audit-3' }],
      reason: 'not the same after all',
    });
    expect(split.status).toBe(201);

    const page = (await (await as('admin', 'GET', `/audit?profile=${survivor}&actor=env:ops`)).json()) as {
      entries: Record<string, any>[];
    };
    expect(page.entries.map((e) => [e['action'], e['reason']])).toEqual([
      ['profile.split', 'not the same after all'],
      ['profile.merged', 'same person, per ticket 7'],
    ]);
    expect(page.entries[1]?.['details']).toMatchObject({ kind: 'manual', retired: [survivor === bob ? cy : bob] });

    // A record bridging two profiles merges them in the pipeline: the merge is audited as the hub's own.
    const before = await t.count(`audit_log where actor = 'aurum' and action = 'profile.merged'`);
    await t.postWebhook(
      'crm',
      // One person's two addresses: a name and a different email each are not enough to link.
      JSON.stringify([
        { id: 'c-audit-6', email: 'eve.audit@example.com', first_name: 'Eve', last_name: 'Audit' },
        { id: 'c-audit-7', email: 'fay.audit@example.com', first_name: 'Eve', last_name: 'Audit' },
      ]),
    );
    await t.settle();
    const eve = { first_name: 'Eve', last_name: 'Audit', phone: '+447911123456' };
    await t.postWebhook('crm', JSON.stringify({ id: 'c-audit-8', email: 'eve.audit@example.com', ...eve }));
    await t.postWebhook('crm', JSON.stringify({ id: 'c-audit-9', email: 'fay.audit@example.com', ...eve }));
    await t.settle();
    expect(await t.count(`audit_log where actor = 'aurum' and action = 'profile.merged'`)).toBeGreaterThan(before);
  });

  it('filters by action and time, and pages newest first', async () => {
    const all = (await (await as('compliance', 'GET', '/audit?action=profile.read&limit=2')).json()) as {
      entries: { id: number; at: string }[];
      next: number | null;
    };
    expect(all.entries).toHaveLength(2);
    expect(all.next).toBe(all.entries[1]?.id);
    const next = (await (await as('compliance', 'GET', `/audit?action=profile.read&limit=2&before=${all.next}`)).json()) as {
      entries: { id: number }[];
    };
    expect(next.entries[0]?.id).toBeLessThan(all.next as number);
    const future = (await (await as('compliance', 'GET', `/audit?from=${new Date(Date.now() + 60_000).toISOString()}`)).json()) as {
      entries: unknown[];
      next: null;
    };
    expect(future).toEqual({ entries: [], next: null, truncated: false });
    const past = (await (await as('compliance', 'GET', `/audit?to=${new Date(Date.now() - 3_600_000).toISOString()}`)).json()) as {
      entries: unknown[];
    };
    expect(past.entries).toEqual([]);
    const window = (await (
      await as(
        'compliance',
        'GET',
        `/audit?action=profile.read&from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`,
      )
    ).json()) as { entries: unknown[] };
    expect(window.entries.length).toBeGreaterThan(0);
    expect((await as('compliance', 'GET', '/audit?from=yesterday')).status).toBe(400);
    expect((await as('compliance', 'GET', '/audit?profile=not-an-id')).status).toBe(400);
  });

  it('is append-only: the database refuses to update or delete an entry', async () => {
    const db = t.testDb.database.db;
    await expect(db.execute(sql`update audit_log set actor = 'someone else'`)).rejects.toThrow();
    await expect(db.execute(sql`delete from audit_log`)).rejects.toThrow();
    expect(await t.count('audit_log')).toBeGreaterThan(0);
  });
});
