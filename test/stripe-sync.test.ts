/**
 * Pulling from Stripe through the real pipeline, against msw handlers shaped like Stripe's API
 * reference: customer lists paged with `starting_after`/`has_more`, customer events, 429 with
 * Retry-After, 5xx, an expired key; a full sync, then an incremental one, and a run that stops
 * half-way and resumes from its saved cursor. A business customer is a member of its business's
 * account, by name: here an ERP (a webhook source of the workspace's own) holds the account.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { lastRun as lastRunOf, syncNow } from './helpers/sync.ts';

const API = 'https://api.stripe.test';
const KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';

const customer = (n: number, email: string) => ({
  id: `cus_${n}`,
  object: 'customer',
  address: { city: 'Leeds', country: 'GB', line1: `${n} Park Row`, line2: null, postal_code: 'LS1 5HD', state: null },
  balance: 0,
  created: 1_700_000_000 + n,
  currency: 'gbp',
  delinquent: false,
  email,
  // Neighbours on one street: different people, by their given names.
  name: `${['Ada', 'Grace', 'Tom', 'Edsger'][n - 1] ?? 'Barbara'} Number${n}`,
  phone: null,
  metadata: {},
});
const customers = [customer(1, 'one@example.com'), customer(2, 'two@example.com'), customer(3, 'three@example.com')];

/** Stripe's list envelope, two objects a page whatever `limit` asks, after `starting_after`. */
function page<T extends { id: string }>(all: T[], url: URL) {
  const after = url.searchParams.get('starting_after');
  const from = after ? all.findIndex((x) => x.id === after) + 1 : 0;
  const data = all.slice(from, from + 2);
  return { object: 'list', url: url.pathname, has_more: from + 2 < all.length, data };
}

const calls: URL[] = [];
let failNext: { status: number; times: number; retryAfter?: string } | undefined;
let events: object[] = [];

const server = setupServer(
  http.all(`${API}/*`, ({ request }) => {
    calls.push(new URL(request.url));
    if (request.headers.get('authorization') !== `Bearer ${KEY}`) {
      return HttpResponse.json(
        { error: { code: 'api_key_expired', message: 'Expired API Key provided: sk_test_***', type: 'invalid_request_error' } },
        { status: 401 },
      );
    }
    if (failNext && failNext.times > 0) {
      failNext.times--;
      const headers: Record<string, string> = failNext.retryAfter ? { 'retry-after': failNext.retryAfter } : {};
      return HttpResponse.json({ error: { type: 'api_error', message: 'try again' } }, { status: failNext.status, headers });
    }
    return undefined;
  }),
  http.get(`${API}/v1/customers`, ({ request }) => HttpResponse.json(page(customers, new URL(request.url)))),
  http.get(`${API}/v1/events`, ({ request }) => {
    const url = new URL(request.url);
    const since = Number(url.searchParams.get('created[gte]'));
    return HttpResponse.json(page(events.filter((e) => (e as { created: number }).created >= since) as { id: string }[], url));
  }),
);

function workspace(key: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-stripe-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  writeFileSync(
    path.join(dir, 'connectors', 'billing.yaml'),
    `type: stripe\napiKey: ${key}\nbaseUrl: ${API}\nrateLimit: 50\nschedule: "*/15 * * * *"\n`,
  );
  writeFileSync(path.join(dir, 'connectors', 'erp.yaml'), 'type: webhook\nsecret: ${CRM_SECRET}\n');
  writeFileSync(
    path.join(dir, 'mappings', 'erp-company.yaml'),
    'source: erp\nobject: company\nrecordId: id\naccount: \'{ "name": name, "domains": [website], "externalIds": {"erp": id} }\'\n',
  );
  return dir;
}

let t: TestHub;
const lastRun = () => lastRunOf(t, 'billing');
const sync = (body: object = {}) => syncNow(t, 'billing', body);

beforeAll(async () => {
  server.listen({ onUnhandledFrame: 'error' });
  t = await startTestHub({ configDir: workspace(KEY) });
});
afterEach(() => {
  failNext = undefined;
  calls.length = 0;
});
afterAll(async () => {
  server.close();
  await t?.stop();
});

describe('Stripe sync', () => {
  it('pulls every customer page by page on a full sync, saves the cursor, and builds their golden records', async () => {
    const run = await sync({ full: true });
    expect(run).toMatchObject({ status: 'succeeded', pages: 2, records: 3, error: null });
    expect(run.cursorTo).toMatchObject({ phase: 'events' });
    expect(calls.map((u) => u.searchParams.get('starting_after'))).toEqual([null, 'cus_2']);
    expect(calls[0]?.searchParams.get('limit')).toBe('100');
    await t.settle();
    const { profiles } = await t.json<{ profiles: { externalIds: Record<string, string>; name: { family: string } }[] }>(
      'GET',
      '/profiles?email=two@example.com',
    );
    expect(profiles).toHaveLength(1);
    expect(profiles[0]?.externalIds).toMatchObject({ stripe: 'cus_2' });
    expect(profiles[0]?.name.family).toBe('Number2');

    const { sources } = await t.json<{ sources: { name: string; health: string; schedule: string; cursor: unknown }[] }>('GET', '/sources');
    expect(sources.find((s) => s.name === 'billing')).toMatchObject({ health: 'ok', schedule: '*/15 * * * *' });
    // The schedule is a pg-boss cron job of its own, keyed by the source.
    expect(await t.count(`pgboss.schedule where name = 'aurum-sync' and key = 'billing' and cron = '*/15 * * * *'`)).toBe(1);
  });

  it('then pulls only customer events since the cursor, and the golden record follows the change', async () => {
    const since = (await lastRun()).cursorTo?.since as number;
    events = [
      {
        id: 'evt_1',
        object: 'event',
        type: 'customer.updated',
        created: since + 5,
        data: { object: { ...customer(2, 'two@example.com'), name: 'Customer Renamed' } },
      },
    ];
    const run = await sync();
    expect(run).toMatchObject({ status: 'succeeded', records: 1, cursorTo: { phase: 'events', since: since + 5 } });
    expect(calls.map((u) => u.pathname)).toEqual(['/v1/events']);
    expect(calls[0]?.searchParams.get('created[gte]')).toBe(String(since));
    expect(calls[0]?.searchParams.get('type')).toBe('customer.*');
    await t.settle();
    const { profiles } = await t.json<{ profiles: { name: { family: string } }[] }>('GET', '/profiles?email=two@example.com');
    expect(profiles[0]?.name.family).toBe('Renamed');
  });

  it('marks a customer deleted by a customer.deleted event: it leaves its golden record, and a newer version brings it back', async () => {
    const since = (await lastRun()).cursorTo?.['since'] as number;
    const gone = { ...customer(3, 'three@example.com') };
    events = [{ id: 'evt_2', object: 'event', type: 'customer.deleted', created: since + 10, data: { object: gone } }];
    const { profiles: before } = await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?email=three@example.com');
    expect(before).toHaveLength(1);
    expect(await sync()).toMatchObject({ status: 'succeeded', records: 1 });
    await t.settle();
    // Its keys are gone, so it is found by no identifier, and its golden record no longer holds it.
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?email=three@example.com')).profiles).toHaveLength(0);
    const emptied = await t.json<{ emails: string[]; sources: unknown[] }>('GET', `/profiles/${before[0]?.id}`);
    expect(emptied.emails).toEqual([]);
    expect(emptied.sources).toEqual([]);

    events = [{ id: 'evt_3', object: 'event', type: 'customer.created', created: since + 20, data: { object: gone } }];
    expect(await sync()).toMatchObject({ status: 'succeeded', records: 1 });
    await t.settle();
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?email=three@example.com')).profiles).toHaveLength(1);
    events = [];
  });

  it('makes a business customer a member of its business, by name, linked when an account of that name arrives', async () => {
    const since = (await lastRun()).cursorTo?.['since'] as number;
    const business = (n: number, email: string, businessName: string, individualName: string | null) => ({
      ...customer(n, email),
      // Stripe sets `name` to the business name when the customer is created without one.
      name: businessName,
      business_name: businessName,
      individual_name: individualName,
    });
    events = [
      {
        id: 'evt_4',
        object: 'event',
        type: 'customer.created',
        created: since + 30,
        data: { object: business(4, 'jenny@rosendesign.example', 'Rosen Design Ltd', 'Jenny Rosen') },
      },
      {
        id: 'evt_5',
        object: 'event',
        type: 'customer.created',
        created: since + 31,
        data: { object: business(5, 'accounts@okaforfreight.example', 'Okafor Freight Ltd', null) },
      },
    ];
    expect(await sync()).toMatchObject({ status: 'succeeded', records: 2 });
    await t.settle();
    const profileOf = async (email: string) =>
      (await t.json<{ profiles: Record<string, any>[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles[0];
    const jenny = await profileOf('jenny@rosendesign.example');
    // The person is the individual, not the business Stripe also wrote into `name`.
    expect(jenny).toMatchObject({ name: { full: 'Jenny Rosen', given: 'Jenny', family: 'Rosen' }, company: 'Rosen Design Ltd' });
    expect((await profileOf('accounts@okaforfreight.example'))?.['name']?.full).toBeUndefined();
    const membershipsOf = async (id: string) =>
      (await t.json<{ accounts: Record<string, any>[] }>('GET', `/profiles/${id}/accounts`)).accounts;
    expect(await membershipsOf(jenny?.['id'])).toEqual([
      {
        accountId: null,
        ambiguous: false,
        ref: { name: 'Rosen Design Ltd' },
        role: null,
        source: 'billing',
        validFrom: expect.any(String),
        validTo: null,
      },
    ]);

    // The ERP's account of that name, its legal form written out: the same name to a reference.
    const posted = await t.postWebhook(
      'erp',
      JSON.stringify({ id: 'R-1', name: 'Rosen Design Limited', website: 'https://rosendesign.example' }),
      SECRETS.CRM_SECRET,
    );
    expect(posted.status).toBe(202);
    await t.settle();
    const { accounts } = await t.json<{ accounts: Record<string, any>[] }>('GET', '/accounts?externalId=erp:R-1');
    expect(accounts).toHaveLength(1);
    expect((await membershipsOf(jenny?.['id']))[0]?.['accountId']).toBe(accounts[0]?.['id']);
    expect((await t.json('GET', `/accounts/${accounts[0]?.['id']}`)).members).toEqual([
      { profileId: jenny?.['id'], role: null, source: 'billing', validFrom: expect.any(String) },
    ]);
    events = [];
  });

  it('waits as a 429 Retry-After asks and retries 5xx, then succeeds', async () => {
    failNext = { status: 429, times: 1, retryAfter: '1' };
    const started = Date.now();
    const limited = await sync({ full: true });
    expect(limited).toMatchObject({ status: 'succeeded', records: 3 });
    expect(limited.requests).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    failNext = { status: 503, times: 2 };
    expect(await sync({ full: true })).toMatchObject({ status: 'succeeded', records: 3, requests: 4 });
  });

  it('resumes from the cursor saved after the last page stored when a run stops half-way, with nothing twice', async () => {
    const before = await t.count(`raw_records where source = 'billing'`);
    // The second page fails for good (a 400 is not retried): the run stops after one page.
    server.use(
      http.get(`${API}/v1/customers`, ({ request }) =>
        new URL(request.url).searchParams.get('starting_after')
          ? HttpResponse.json({ error: { type: 'invalid_request_error', message: 'boom' } }, { status: 400 })
          : undefined,
      ),
    );
    const stopped = await sync({ full: true });
    expect(stopped).toMatchObject({ status: 'failed', pages: 1, records: 2, cursorTo: { phase: 'customers', startingAfter: 'cus_2' } });
    expect(stopped.error?.code).toBe('vendor_rejected');
    server.resetHandlers();
    calls.length = 0;
    const resumed = await sync();
    expect(resumed).toMatchObject({ status: 'succeeded', pages: 1, records: 1 });
    expect(calls[0]?.searchParams.get('starting_after')).toBe('cus_2');
    expect(await t.count(`raw_records where source = 'billing'`)).toBe(before + 3);
  });

  it('stops at once with auth_failed on an expired key, without retrying', async () => {
    await t.stop();
    t = await startTestHub({ configDir: workspace('sk_test_expired_0000') });
    const run = await sync({ full: true });
    expect(run).toMatchObject({ status: 'failed', requests: 1 });
    expect(run.error?.code).toBe('auth_failed');
    const { runs } = await t.json<{ runs: { errors: { code: string }[]; cursor: unknown; startedAt: string; seconds: number }[] }>(
      'GET',
      '/sources/billing/runs',
    );
    expect(runs[0]).toMatchObject({ errors: [{ code: 'auth_failed' }], cursor: null, startedAt: expect.any(String) });
    expect(run.error?.message).toContain('401');
    const { sources } = await t.json<{ sources: { name: string; health: string }[] }>('GET', '/sources');
    expect(sources.find((s) => s.name === 'billing')?.health).toBe('failing');
  });

  it('refuses a second sync while one is queued or running, a malformed body and an unknown source', async () => {
    const [a, b] = await Promise.all([t.call('POST', '/sources/billing/sync', {}), t.call('POST', '/sources/billing/sync', {})]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const refused = a.status === 409 ? a : b;
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('sync_in_progress');
    await waitFor(async () => !['queued', 'running'].includes((await lastRun()).status), 30_000);
    const response = await t.call('POST', '/sources/billing/sync', { full: 'yes' });
    expect(response.status).toBe(400);
    expect((await t.call('POST', '/sources/nope/sync', {})).status).toBe(404);
  });
});
