/**
 * HubSpot through the real pipeline, against msw handlers shaped like HubSpot's CRM v3 reference:
 * contacts listed with `paging.next.after`, the search API for incremental pulls, batch read for
 * the ids webhooks carry, and an expired token. Companies are accounts, and a contact is a member
 * of its primary company (`associatedcompanyid`).
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';
import { syncNow } from './helpers/sync.ts';

const API = 'https://api.hubapi.test';
const TOKEN = 'pat-eu1-11111111-2222-3333-4444-555555555555';
const SECRET = 'hubspot-client-secret-0123456789';

const contact = (id: number, email: string, updatedAt: string, optOut = 'false', companyId: string | null = '9001') => ({
  id: String(id),
  properties: {
    createdate: '2024-01-01T00:00:00.000Z',
    email,
    // Different people: different given names (the number keeps each one's own).
    firstname: `${{ 101: 'Eve', 102: 'Ann', 103: 'Bea', 104: 'Cy' }[id] ?? 'Di'}${id}`,
    lastname: 'Smythe',
    phone: `+4479111234${String(id).slice(-2)}`,
    company: 'Acme Ltd',
    // HubSpot returns every property asked for, null when unset, and numbers as strings.
    associatedcompanyid: companyId,
    jobtitle: companyId ? 'Buyer' : null,
    city: 'Bristol',
    zip: 'BS1 4DJ',
    hs_email_optout: optOut,
    lastmodifieddate: updatedAt,
    hs_object_id: String(id),
  },
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt,
  archived: false,
});
let contacts = [
  contact(101, 'ann101@example.com', '2024-02-01T00:00:00.000Z'),
  contact(102, 'ann102@example.com', '2024-02-02T00:00:00.000Z'),
  contact(103, 'ann103@example.com', '2024-02-03T00:00:00.000Z', 'false', null),
];
const company = (id: number, name: string, updatedAt: string, archived = false) => ({
  id: String(id),
  properties: {
    createdate: '2024-01-01T00:00:00.000Z',
    name,
    domain: `${name.toLowerCase().replace(/[^a-z]/g, '')}.example`,
    website: `https://www.${name.toLowerCase().replace(/[^a-z]/g, '')}.example/`,
    // Company 9001 has the same switchboard and street as contact 101: it must still not merge with a person.
    phone: id === 9001 ? '+447911123401' : `+4411749600${String(id).slice(-2)}`,
    address: id === 9001 ? '1 Harbour Way' : `${id} Quay Street`,
    city: 'Bristol',
    zip: id === 9001 ? 'BS1 4DJ' : 'BS1 1AA',
    industry: 'COMPUTER_SOFTWARE',
    hs_lastmodifieddate: updatedAt,
    hs_object_id: String(id),
  },
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt,
  archived,
});
let companies = [company(9001, 'Acme Ltd', '2024-02-05T00:00:00.000Z')];
const stores = { contacts: () => contacts, companies: () => companies } as const;
type ObjectType = keyof typeof stores;
const searches: { type: string; body: unknown }[] = [];
const lists: URL[] = [];
const batchReads: { type: string; body: { properties: string[] } }[] = [];

const server = setupServer(
  http.all(`${API}/*`, ({ request }) => {
    if (request.headers.get('authorization') !== `Bearer ${TOKEN}`) {
      return HttpResponse.json(
        { status: 'error', message: 'The OAuth token used to make this call expired 2 hour(s) ago.', category: 'EXPIRED_AUTHENTICATION' },
        { status: 401 },
      );
    }
    return undefined;
  }),
  http.get(`${API}/crm/v3/objects/:type`, ({ request, params }) => {
    const url = new URL(request.url);
    lists.push(url);
    const all = stores[params['type'] as ObjectType]();
    const from = Number(url.searchParams.get('after') ?? 0);
    const results = all.slice(from, from + 2);
    const next =
      from + 2 < all.length
        ? { paging: { next: { after: String(from + 2), link: `${API}/crm/v3/objects/${params['type']}?after=${from + 2}` } } }
        : {};
    return HttpResponse.json({ results, ...next });
  }),
  http.post(`${API}/crm/v3/objects/:type/search`, async ({ request, params }) => {
    const body = (await request.json()) as { filterGroups: { filters: { value: string }[] }[]; after?: string };
    searches.push({ type: params['type'] as string, body });
    const since = Number(body.filterGroups[0]?.filters[0]?.value);
    const all: { updatedAt: string }[] = stores[params['type'] as ObjectType]();
    const matching = all.filter((c) => Date.parse(c.updatedAt) >= since).sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
    return HttpResponse.json({ total: matching.length, results: matching });
  }),
  http.post(`${API}/crm/v3/objects/:type/batch/read`, async ({ request, params }) => {
    const body = (await request.json()) as { inputs: { id: string }[]; properties: string[] };
    batchReads.push({ type: params['type'] as string, body });
    const all: { id: string }[] = stores[params['type'] as ObjectType]();
    const results = all.filter((c) => body.inputs.some((i) => i.id === c.id));
    return HttpResponse.json({ status: 'COMPLETE', results, startedAt: '2024-03-01T00:00:00Z', completedAt: '2024-03-01T00:00:01Z' });
  }),
);

function workspace(token: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-hubspot-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  writeFileSync(
    path.join(dir, 'connectors', 'crm.yaml'),
    `type: hubspot\naccessToken: ${token}\nsecret: ${SECRET}\nbaseUrl: ${API}\nwebhookUrl: https://hub.example.com/webhooks/crm\n`,
  );
  return dir;
}

let t: TestHub;
beforeAll(async () => {
  server.listen({ onUnhandledFrame: 'error' });
  t = await startTestHub({ configDir: workspace(TOKEN) });
});
afterEach(() => {
  searches.length = 0;
  lists.length = 0;
  batchReads.length = 0;
});
afterAll(async () => {
  server.close();
  await t?.stop();
});

/** A webhook event as HubSpot sends it: ids only. */
const event = (eventId: number, subscriptionType: string, objectId: number) => ({
  eventId,
  subscriptionId: 9,
  portalId: 62515,
  appId: 1,
  occurredAt: Date.now(),
  subscriptionType,
  attemptNumber: 0,
  objectId,
  changeSource: 'CRM',
});

/** Posts HubSpot webhook events to the `crm` source, signed as HubSpot signs them (v3). */
async function postEvents(events: object[]): Promise<Response> {
  const body = JSON.stringify(events);
  const timestamp = String(Date.now());
  const signature = createHmac('sha256', SECRET).update(`POSThttps://hub.example.com/webhooks/crm${body}${timestamp}`).digest('base64');
  return t.hub.app.request('/webhooks/crm', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp },
    body,
  });
}
const profileOf = async (email: string) =>
  (await t.json<{ profiles: Record<string, any>[] }>('GET', `/profiles?email=${email}`)).profiles[0] as Record<string, any>;
const accountsBy = async (externalId: string) =>
  (await t.json<{ accounts: Record<string, any>[] }>('GET', `/accounts?externalId=${externalId}`)).accounts;

describe('HubSpot sync', () => {
  it('lists every contact and company on a full sync, then searches for those modified since the cursor', async () => {
    const full = await syncNow(t, 'crm', { full: true });
    expect(full).toMatchObject({
      status: 'succeeded',
      pages: 3,
      records: 4,
      cursorTo: { contacts: { phase: 'search' }, companies: { phase: 'search' } },
    });
    expect(lists.map((u) => [u.pathname, u.searchParams.get('after')])).toEqual([
      ['/crm/v3/objects/contacts', null],
      ['/crm/v3/objects/contacts', '2'],
      ['/crm/v3/objects/companies', null],
    ]);
    expect(lists[0]?.searchParams.get('properties')?.split(',')).toEqual(
      expect.arrayContaining(['hs_email_optout', 'associatedcompanyid', 'jobtitle']),
    );
    expect(lists[2]?.searchParams.get('properties')?.split(',')).toEqual(expect.arrayContaining(['domain', 'website']));
    await t.settle();
    const ann = await profileOf('ann102@example.com');
    expect(ann).toMatchObject({ name: { given: 'Ann102', family: 'Smythe' }, company: 'Acme Ltd', externalIds: { hubspot: '102' } });
    expect(ann['consent']).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'granted' }));

    const since = (full.cursorTo as { contacts: { since: number } }).contacts.since;
    contacts = [
      ...contacts.filter((c) => c.id !== '103'),
      contact(103, 'ann103@example.com', new Date(since + 60_000).toISOString(), 'true', null),
    ];
    companies = [company(9001, 'Acme Holdings Ltd', new Date(since + 90_000).toISOString())];
    const incremental = await syncNow(t, 'crm');
    expect(incremental).toMatchObject({
      status: 'succeeded',
      records: 2,
      cursorTo: { contacts: { phase: 'search', since: since + 60_000 }, companies: { phase: 'search', since: since + 90_000 } },
    });
    expect(searches.map((s) => s.type)).toEqual(['contacts', 'companies']);
    expect(searches[0]?.body).toMatchObject({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(since) }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      properties: expect.arrayContaining(['associatedcompanyid']),
    });
    // Companies name their modification time differently.
    expect(searches[1]?.body).toMatchObject({
      filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE', value: String(since) }] }],
    });
    await t.settle();
    expect((await profileOf('ann103@example.com'))['consent']).toContainEqual(
      expect.objectContaining({ purpose: 'marketing', status: 'denied' }),
    );
  });

  it('maps a company into an account, with its people as members, which shares a phone and street with a person but never merges with one', async () => {
    expect(await accountsBy('hubspot_company:9001')).toHaveLength(1);
    const [acme] = await accountsBy('hubspot_company:9001');
    expect(acme).toMatchObject({
      name: 'Acme Holdings Ltd',
      // `domain` and `website` name one host.
      domains: ['acmeholdingsltd.example'],
      phones: ['+447911123401'],
      industry: 'COMPUTER_SOFTWARE',
      externalIds: { hubspot_company: '9001' },
      sources: [{ source: 'crm', object: 'company', recordId: '9001' }],
    });
    expect(acme?.['addresses']).toContainEqual(expect.objectContaining({ line1: '1 Harbour Way', postalCode: 'BS1 4DJ' }));
    // A company is no profile, and no person holds its id.
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?externalId=hubspot_company:9001')).profiles).toEqual([]);
    const ann101 = await profileOf('ann101@example.com');
    expect(ann101['externalIds']).toEqual({ hubspot: '101' });
    expect(ann101['sources']).toEqual([{ source: 'crm', object: 'contact', recordId: '101' }]);

    // The contacts whose primary company it is are its members; contact 103 names none.
    const ann102 = await profileOf('ann102@example.com');
    const { members } = await t.json<{ members: Record<string, any>[] }>('GET', `/accounts/${acme?.['id']}`);
    expect(members.map((m) => m['profileId']).sort()).toEqual([ann101['id'], ann102['id']].sort());
    expect(members.every((m) => m['role'] === 'Buyer' && m['source'] === 'crm')).toBe(true);
    const memberships = await t.json('GET', `/profiles/${ann101['id']}/accounts`);
    expect(memberships.accounts).toEqual([
      {
        accountId: acme?.['id'],
        ambiguous: false,
        ref: { externalIds: { hubspot_company: '9001' } },
        role: 'Buyer',
        source: 'crm',
        validFrom: expect.any(String),
        validTo: null,
      },
    ]);
    const ann103 = await profileOf('ann103@example.com');
    expect((await t.json('GET', `/profiles/${ann103['id']}/accounts`)).accounts).toEqual([]);
  });

  it('resumes from a cursor saved before companies were pulled: contacts are searched, companies listed from the start', async () => {
    const before = await t.count(`source_records where source = 'crm' and object = 'company'`);
    await t.testDb.database.db.execute(
      sql`update source_cursors set cursor = ${JSON.stringify({ phase: 'search', since: Date.now() + 3_600_000 })}::jsonb where source = 'crm'`,
    );
    const run = await syncNow(t, 'crm');
    expect(run).toMatchObject({
      status: 'succeeded',
      records: 1,
      cursorTo: { contacts: { phase: 'search' }, companies: { phase: 'search' } },
    });
    expect(lists.map((u) => u.pathname)).toEqual(['/crm/v3/objects/companies']);
    expect(await t.count(`source_records where source = 'crm' and object = 'company'`)).toBe(before);
  });

  it('fetches the contacts a webhook names by id, and maps those', async () => {
    contacts.push(contact(104, 'ann104@example.com', '2024-03-01T00:00:00.000Z'));
    const response = await postEvents([event(1, 'contact.creation', 104)]);
    expect(response.status).toBe(202);
    await t.settle();
    expect(batchReads).toMatchObject([{ type: 'contacts', body: { properties: expect.arrayContaining(['associatedcompanyid']) } }]);
    const ann104 = await profileOf('ann104@example.com');
    expect(ann104).toMatchObject({ externalIds: { hubspot: '104' } });
    const [acme] = await accountsBy('hubspot_company:9001');
    expect((await t.json('GET', `/accounts/${acme?.['id']}`)).members.map((m: any) => m.profileId)).toContain(ann104['id']);
    // The event itself is kept, as received.
    expect(await t.count(`raw_records where source = 'crm' and payload->>'subscriptionType' = 'contact.creation'`)).toBe(1);
  });

  it('marks a contact deleted when a webhook reports its deletion', async () => {
    const response = await postEvents([event(2, 'contact.deletion', 104)]);
    expect(response.status).toBe(202);
    await t.settle();
    expect(await profileOf('ann104@example.com')).toBeUndefined();
  });

  it('fetches a company a webhook names, and marks one deleted when a webhook reports its deletion', async () => {
    companies.push(company(9002, 'Brindle Co', '2024-03-02T00:00:00.000Z'));
    expect((await postEvents([event(3, 'company.creation', 9002)])).status).toBe(202);
    await t.settle();
    expect(batchReads).toMatchObject([{ type: 'companies', body: { properties: expect.arrayContaining(['domain', 'website']) } }]);
    expect(await accountsBy('hubspot_company:9002')).toMatchObject([{ name: 'Brindle Co', domains: ['brindleco.example'] }]);
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?externalId=hubspot_company:9002')).profiles).toEqual([]);
    expect((await postEvents([event(4, 'company.deletion', 9002)])).status).toBe(202);
    await t.settle();
    expect(await accountsBy('hubspot_company:9002')).toEqual([]);
    expect(
      await t.count(`source_records where source = 'crm' and object = 'company' and record_id = '9002' and deleted_at is not null`),
    ).toBe(1);
  });

  it('waits out a 429 as Retry-After asks and retries a 502, then finishes with nothing lost', async () => {
    const clean = await syncNow(t, 'crm');
    const times: number[] = [];
    const onRequest = ({ request }: { request: Request }) => {
      if (request.url.endsWith('/crm/v3/objects/contacts/search')) times.push(Date.now());
    };
    server.events.on('request:start', onRequest);
    server.use(
      http.post(
        `${API}/crm/v3/objects/contacts/search`,
        () =>
          HttpResponse.json(
            {
              status: 'error',
              message: 'You have reached your secondly limit.',
              errorType: 'RATE_LIMIT',
              correlationId: 'c7b1e5f2-0000-4000-8000-000000000001',
              policyName: 'SECONDLY',
            },
            { status: 429, headers: { 'retry-after': '1' } },
          ),
        { once: true },
      ),
      http.post(`${API}/crm/v3/objects/contacts/search`, () => new HttpResponse('Bad Gateway', { status: 502 }), { once: true }),
    );
    try {
      const run = await syncNow(t, 'crm');
      expect(run).toMatchObject({ status: 'succeeded', records: clean.records, requests: clean.requests + 2, error: null });
      expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(950);
    } finally {
      server.events.removeListener('request:start', onRequest);
    }
  });

  it('stops with auth_failed when the token has expired', async () => {
    await t.stop();
    t = await startTestHub({ configDir: workspace('pat-expired-token') });
    const run = await syncNow(t, 'crm', { full: true });
    expect(run).toMatchObject({ status: 'failed', requests: 1, error: { code: 'auth_failed' } });
    expect(run.error?.message).toContain('expired');
  });
});
