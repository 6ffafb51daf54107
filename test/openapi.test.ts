/**
 * `GET /openapi.json` and `GET /docs`: the document is OpenAPI 3.1 in shape, lists exactly the
 * routes the app serves with the roles that may call them, and real answers match its schemas.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_KEYS, startTestHub, type TestHub } from './helpers/hub.ts';

type Role = keyof typeof ROLE_KEYS;
const ROLES: Role[] = ['reader', 'ops', 'compliance', 'admin'];
const NO_ID = '00000000-0000-4000-8000-000000000000';
const METHODS = ['get', 'post', 'patch', 'put', 'delete'];

interface Operation {
  summary: string;
  tags: string[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
  'x-aurum-roles'?: string[];
}
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: { Error: Record<string, unknown> } };
}

let t: TestHub;
let doc: Doc;
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const compiled = new Map<string, ValidateFunction>();

/** The declared JSON body of `method path` answering `status`: fails when that status is not declared. */
function validatorFor(method: string, route: string, status: number): ValidateFunction {
  const key = `${method} ${route} ${status}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const path = route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  const response = doc.paths[path]?.[method.toLowerCase()]?.responses[String(status)];
  if (!response) throw new Error(`${method} ${route} answered ${status}, which its declaration does not list`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method} ${route} ${status} declares no JSON body`);
  const validate = ajv.compile(schema['$ref'] === '#/components/schemas/Error' ? doc.components.schemas.Error : schema);
  compiled.set(key, validate);
  return validate;
}

/** Checks a real answer against the document, and returns its body. */
async function conforms<T = any>(method: string, route: string, response: Response): Promise<T> {
  const body = (await response.json()) as T;
  const validate = validatorFor(method, route, response.status);
  expect(validate(body) ? [] : validate.errors, `${method} ${route} ${response.status}`).toEqual([]);
  return body;
}

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), route: path.replace(/\{([^}]+)\}/g, ':$1'), op })),
  );

beforeAll(async () => {
  t = await startTestHub();
  const response = await t.hub.app.request('/openapi.json');
  expect(response.status).toBe(200);
  doc = (await response.json()) as Doc;
});
afterAll(async () => {
  await t?.stop();
});

describe('the API document', () => {
  it('is OpenAPI 3.1 in shape: info, paths, and every operation with a summary, a tag and responses', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Aurum API', version: expect.any(String) });
    expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    for (const { method, route, op } of operations()) {
      const name = `${method} ${route}`;
      expect(op.summary, name).toEqual(expect.any(String));
      expect(op.tags, name).toHaveLength(1);
      expect(Object.keys(op.responses).length, name).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(op.responses)) {
        expect(status, name).toMatch(/^[1-5][0-9]{2}$/);
        expect(response.description, `${name} ${status}`).toEqual(expect.any(String));
      }
      // Every path parameter is declared, and only those.
      const inPath = [...route.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      expect(
        (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        name,
      ).toEqual(inPath);
    }
  });

  it('declares every schema so that a JSON Schema 2020-12 validator compiles it', () => {
    const strict = new Ajv2020({ strict: true, strictRequired: false, validateFormats: true });
    addFormats.default(strict);
    for (const { method, route, op } of operations()) {
      for (const media of Object.values(op.requestBody?.content ?? {})) {
        expect(() => strict.compile(media.schema as object), `${method} ${route} body`).not.toThrow();
      }
      for (const [status, response] of Object.entries(op.responses)) {
        const schema = response.content?.['application/json']?.schema;
        if (schema && !schema['$ref']) expect(() => strict.compile(schema), `${method} ${route} ${status}`).not.toThrow();
      }
    }
  });

  it('lists exactly the routes the app serves: a route added without a declaration fails here', () => {
    const served = new Set(t.hub.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    const documented = new Set(operations().map(({ method, route }) => `${method} ${route}`));
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.has(r))).toEqual([]);
  });

  it('states the roles of every authenticated route as the route enforces them, with its 401 and 403', async () => {
    const open = operations().filter(({ op }) => !op['x-aurum-roles']);
    expect(open.map(({ method, route }) => `${method} ${route}`).sort()).toEqual(
      ['GET /docs', 'GET /health', 'GET /openapi.json', 'GET /webhooks/:source', 'POST /webhooks/:source'].sort(),
    );
    for (const { method, route, op } of operations()) {
      const roles = op['x-aurum-roles'];
      if (!roles) continue;
      expect(Object.keys(op.responses), `${method} ${route}`).toEqual(expect.arrayContaining(['401', '403']));
      const path = route.replace(/:id\b/g, NO_ID).replace(/:[A-Za-z0-9_]+/g, 'no-such-thing');
      const body = method === 'GET' || method === 'DELETE' ? undefined : {};
      await conforms(method, route, await t.as(undefined, method, path, body));
      for (const role of ROLES) {
        const response = await t.as(role, method, path, body);
        if (roles.includes(role)) expect(response.status, `${role} ${method} ${route}`).not.toBe(403);
        else expect(response.status, `${role} ${method} ${route}`).toBe(403);
        // Whatever it answers (a validation error, a 404), the answer is one the document declares.
        if (response.status !== 204 && response.headers.get('content-type')?.includes('application/json')) {
          await conforms(method, route, response);
        }
      }
    }
  });
});

describe('real answers match the declared schemas', () => {
  it('GET /health', async () => {
    expect(await conforms('GET', '/health', await t.hub.app.request('/health'))).toMatchObject({ status: 'ok' });
  });

  it('GET /profiles, as each role sees a profile', async () => {
    const record = { id: 'c-doc-1', email: 'dora.doc@example.com', first_name: 'Dora', marketing_opt_in: true };
    expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    await t.settle();
    for (const role of ROLES) {
      const page = await conforms('GET', '/profiles', await t.as(role, 'GET', '/profiles?email=dora.doc@example.com'));
      expect(page.profiles, role).toHaveLength(1);
      const [profile] = page.profiles;
      await conforms('GET', '/profiles/:id', await t.as(role, 'GET', `/profiles/${profile.id}`));
    }
    const [profile] = (
      (await (await t.as('admin', 'GET', '/profiles?email=dora.doc@example.com')).json()) as { profiles: { id: string }[] }
    ).profiles as [{ id: string }];
    for (const view of ['matches', 'history', 'lineage', 'consent']) {
      const response = await t.as('admin', 'GET', `/profiles/${profile.id}/${view}`);
      expect(response.status, view).toBe(200);
      await conforms('GET', `/profiles/:id/${view}`, response);
    }
  });

  it('POST /destinations, GET /destinations and GET /destinations/:id', async () => {
    const created = await t.as('ops', 'POST', '/destinations', {
      url: 'http://127.0.0.1:9/hook',
      purposes: ['marketing'],
      fields: ['emails'],
    });
    expect(created.status).toBe(201);
    const destination = await conforms('POST', '/destinations', created);
    const listed = await conforms('GET', '/destinations', await t.as('ops', 'GET', '/destinations'));
    expect(listed.destinations.map((d: { id: string }) => d.id)).toContain(destination.id);
    await conforms('GET', '/destinations/:id', await t.as('ops', 'GET', `/destinations/${destination.id}`));
    await conforms('GET', '/destinations/:id/deliveries', await t.as('ops', 'GET', `/destinations/${destination.id}/deliveries`));
  });

  it('GET /sources and GET /sources/:source/runs', async () => {
    const { sources } = await conforms('GET', '/sources', await t.as('ops', 'GET', '/sources'));
    expect(sources.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['crm', 'shop']));
    await conforms('GET', '/sources/:source/runs', await t.as('ops', 'GET', '/sources/crm/runs'));
  });

  it('keys, the audit log, rebuilds, erasure and the quarantine', async () => {
    const made = await t.as('admin', 'POST', '/keys', { name: 'doc-bot', role: 'reader' });
    expect(made.status).toBe(201);
    await conforms('POST', '/keys', made);
    const { keys } = await conforms('GET', '/keys', await t.as('admin', 'GET', '/keys'));
    expect(keys.length).toBeGreaterThan(0);
    await conforms('DELETE', '/keys/:name', await t.as('admin', 'DELETE', '/keys/doc-bot'));
    const { entries } = await conforms('GET', '/audit', await t.as('compliance', 'GET', '/audit'));
    expect(entries.length).toBeGreaterThan(0);
    const started = await t.as('ops', 'POST', '/rebuilds', { kinds: ['golden'], reason: 'doc test' });
    expect(started.status).toBe(202);
    const { rebuilds } = await conforms('POST', '/rebuilds', started);
    await conforms('GET', '/rebuilds', await t.as('ops', 'GET', '/rebuilds'));
    await conforms('GET', '/rebuilds/:id', await t.as('ops', 'GET', `/rebuilds/${rebuilds[0].id}`));
    await t.settle();
    expect((await t.postWebhook('crm', JSON.stringify({ id: 'c-doc-2', email: 'erin.doc@example.com' }))).status).toBe(202);
    await t.settle();
    const { profiles } = await conforms<{ profiles: [{ id: string }] }>(
      'GET',
      '/profiles',
      await t.as('admin', 'GET', '/profiles?email=erin.doc@example.com'),
    );
    const [erin] = profiles;
    const exported = await t.as('compliance', 'GET', `/profiles/${erin.id}/export`);
    expect(exported.status).toBe(200);
    await conforms('GET', '/profiles/:id/export', exported);
    const record = await t.as('compliance', 'GET', '/records/crm/c-doc-2');
    expect(record.status).toBe(200);
    await conforms('GET', '/records/:source/:recordId', record);
    const erased = await t.as('compliance', 'POST', `/profiles/${erin.id}/erase`, { reason: 'doc test' });
    expect(erased.status).toBe(200);
    await conforms('POST', '/profiles/:id/erase', erased);
    await conforms('GET', '/erasures', await t.as('compliance', 'GET', '/erasures'));
    await conforms('GET', '/quarantine', await t.as('ops', 'GET', '/quarantine?status=all'));
    // A phone that is none: dropped from the record, and counted.
    expect((await t.postWebhook('crm', JSON.stringify({ id: 'c-doc-4', first_name: 'Gus', phone: '12' }))).status).toBe(202);
    await t.settle();
    const dropped = await t.as('compliance', 'GET', '/records/crm/c-doc-4');
    expect((await conforms('GET', '/records/:source/:recordId', dropped)).records[0].violations).toHaveLength(1);
    const { violations } = await conforms('GET', '/quality/violations', await t.as('ops', 'GET', '/quality/violations?source=crm'));
    expect(violations).toEqual([{ source: 'crm', field: 'phones', kind: 'phone_invalid', violations: 1, records: 1 }]);
  });

  it('a file import, a backfill and the consent listing', async () => {
    const imported = await t.hub.app.request('/sources/crm/import', {
      method: 'POST',
      headers: { authorization: `Bearer ${ROLE_KEYS.ops}`, 'content-type': 'text/csv' },
      body: 'id,email\nc-doc-3,fay.doc@example.com\n',
    });
    expect(imported.status).toBe(202);
    const view = await conforms('POST', '/sources/:source/import', imported);
    await t.settle();
    await conforms('GET', '/imports', await t.as('ops', 'GET', '/imports'));
    await conforms('GET', '/imports/:id', await t.as('ops', 'GET', `/imports/${view.id}`));
    const destination = await conforms(
      'POST',
      '/destinations',
      await t.as('ops', 'POST', '/destinations', { url: 'http://127.0.0.1:9/backfill' }),
    );
    const started = await t.as('ops', 'POST', `/destinations/${destination.id}/backfill`);
    expect(started.status).toBe(202);
    await conforms('POST', '/destinations/:id/backfill', started);
    await conforms('GET', '/destinations/:id/backfill', await t.as('ops', 'GET', `/destinations/${destination.id}/backfill`));
    const consent = await t.as('compliance', 'GET', '/consent?purpose=marketing&status=granted');
    expect(consent.status).toBe(200);
    await conforms('GET', '/consent', consent);
  });

  it('errors: the shared {error: {code, message}} body, at a status the route declares', async () => {
    const missing = await t.as('reader', 'GET', `/profiles/${NO_ID}`);
    expect(missing.status).toBe(404);
    expect(await conforms('GET', '/profiles/:id', missing)).toMatchObject({ error: { code: 'profile_not_found' } });
    const refused = await t.as('ops', 'POST', '/destinations', { url: 'http://127.0.0.1:9/hook', fields: ['email'] });
    expect(refused.status).toBe(422);
    expect(await conforms('POST', '/destinations', refused)).toMatchObject({ error: { code: 'unknown_field' } });
    const unsigned = await t.hub.app.request('/webhooks/crm', { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    await conforms('POST', '/webhooks/:source', unsigned);
  });
});

describe('GET /docs', () => {
  it('is one page of every route, grouped by tag, with roles, that loads nothing from elsewhere', async () => {
    const response = await t.hub.app.request('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline|https?:/);
    const html = await response.text();
    expect(html).not.toMatch(/<script|<link|src=/i);
    for (const { method, route } of operations()) {
      expect(html, `${method} ${route}`).toContain(`id="${method.toLowerCase()}-${route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}"`);
    }
    expect(html).toContain('<h2 id="Destinations">Destinations</h2>');
    expect(html).toContain('Roles: compliance, admin');
  });
});
