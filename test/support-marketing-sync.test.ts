/**
 * Zendesk, Intercom, Mailchimp and Odoo pulls through the real pipeline, against msw handlers
 * shaped like each vendor's API reference: Zendesk's cursor-based incremental user export and
 * time-based organization export, Intercom's contact list and search and its company scroll,
 * Mailchimp's audience members with offset pagination and `since_last_changed`, Odoo's JSON-RPC
 * `search_read` on res.partner. Each: a full sync, an incremental one and an expired credential;
 * each also a 429 and a 5xx as the vendor answers them. Zendesk organizations, Intercom companies
 * and Odoo companies are accounts, with the vendor's people as their members.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpResponse, type HttpResponseResolver, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';
import { syncNow } from './helpers/sync.ts';

const ZENDESK = 'https://acme.zendesk.test';
const INTERCOM = 'https://api.intercom.test';
const MAILCHIMP = 'https://us6.api.mailchimp.test';
const ZENDESK_AUTH = `Basic ${Buffer.from('agent@acme.example/token:zd-token-0123456789').toString('base64')}`;
const INTERCOM_TOKEN = 'dG9rOmludGVyY29tLXRva2VuLTAxMjM0NTY3ODk=';
const MAILCHIMP_KEY = '0123456789abcdef0123456789abcdef-us6';

// Zendesk: users, in the order of their updates; a cursor is a position in that order.
const zendeskUsers = [
  {
    id: 35436,
    url: `${ZENDESK}/api/v2/users/35436.json`,
    name: 'Priya Raman',
    email: 'priya@example.com',
    role: 'end-user',
    created_at: '2024-01-01T10:00:00Z',
    updated_at: '2024-01-01T10:00:00Z',
    external_id: null,
    locale: 'en-GB',
    phone: null,
    organization_id: 4112492,
  },
  {
    id: 35437,
    url: `${ZENDESK}/api/v2/users/35437.json`,
    name: 'Tom Okafor',
    email: 'tom@example.com',
    role: 'end-user',
    created_at: '2024-01-02T10:00:00Z',
    updated_at: '2024-01-02T10:00:00Z',
    external_id: 'crm-9',
    locale: 'en-GB',
    phone: null,
    organization_id: null,
  },
];
const zendeskOrganizations = [
  {
    id: 4112492,
    url: `${ZENDESK}/api/v2/organizations/4112492.json`,
    name: 'Raman Trading Ltd',
    domain_names: ['raman.example'],
    external_id: 'ABC198',
    details: '5 Wharf St, Leeds',
    notes: '',
    group_id: null,
    shared_tickets: false,
    shared_comments: false,
    tags: ['wholesale'],
    organization_fields: {},
    created_at: '2024-01-01T09:00:00Z',
    updated_at: '2024-01-01T09:00:00Z',
  },
];
const zendeskOrganizationExports: URL[] = [];
let zendeskTooMany = 0;
const intercomContacts = [
  {
    type: 'contact',
    id: '65a1',
    external_id: null,
    role: 'user',
    email: 'priya@example.com',
    phone: null,
    name: 'Priya Raman',
    created_at: 1704103200,
    updated_at: 1704103200,
    unsubscribed_from_emails: false,
    location: { type: 'location', country: 'United Kingdom', region: 'England', city: 'Leeds' },
    companies: {
      type: 'list',
      data: [{ type: 'company', id: '6585c8a1f2c9e3b0a1d2e3f4', url: '/companies/6585c8a1f2c9e3b0a1d2e3f4' }],
      url: '/contacts/65a1/companies',
      total_count: 1,
      has_more: false,
    },
  },
  {
    type: 'contact',
    id: '65a2',
    external_id: 'crm-9',
    role: 'lead',
    email: 'tom@example.com',
    phone: null,
    name: 'Tom Okafor',
    created_at: 1704189600,
    updated_at: 1704189600,
    unsubscribed_from_emails: true,
    location: { type: 'location', country: null, region: null, city: null },
    companies: { type: 'list', data: [], url: '/contacts/65a2/companies', total_count: 0, has_more: false },
  },
];
const intercomSearches: unknown[] = [];
const intercomCompany = (id: string, name: string, website: string, updatedAt: number) => ({
  type: 'company',
  id,
  company_id: `acct-${name.toLowerCase().replace(/[^a-z]/g, '')}`,
  app_id: 'abc123',
  name,
  remote_created_at: 1704000000,
  created_at: 1704000000,
  updated_at: updatedAt,
  last_request_at: updatedAt,
  monthly_spend: 120,
  session_count: 4,
  user_count: 1,
  size: 12,
  website,
  industry: 'Wholesale',
  plan: { type: 'plan', id: '269', name: 'Pro' },
  custom_attributes: {},
  tags: { type: 'tag.list', tags: [] },
  segments: { type: 'segment.list', segments: [] },
});
const intercomCompanies = [
  intercomCompany('6585c8a1f2c9e3b0a1d2e3f4', 'Raman Trading Ltd', 'https://raman.example', 1704100000),
  intercomCompany('6585c8a1f2c9e3b0a1d2e3f5', 'Okafor Freight', 'okaforfreight.example', 1704100500),
];
const intercomScrolls: URL[] = [];
const member = (id: string, email: string, first: string, last: string, status: string, lastChanged: string) => ({
  id,
  email_address: email,
  unique_email_id: `u${id}`,
  status,
  merge_fields: { FNAME: first, LNAME: last, ADDRESS: '', PHONE: '' },
  marketing_permissions: [{ marketing_permission_id: 'mp1', text: 'Email', enabled: status === 'subscribed' }],
  last_changed: lastChanged,
  list_id: 'a6b5da1054',
});
const mailchimpMembers = [
  member('m1', 'priya@example.com', 'Priya', 'Raman', 'subscribed', '2024-01-05T10:00:00+00:00'),
  member('m2', 'tom@example.com', 'Tom', 'Okafor', 'unsubscribed', '2024-01-06T10:00:00+00:00'),
  member('m3', 'ada@example.com', 'Ada', 'Lovelace', 'subscribed', '2024-01-07T10:00:00+00:00'),
];
const mailchimpCalls: URL[] = [];

const ODOO = 'https://acme.odoo.test';
const ODOO_KEY = 'odoo-api-key-0123456789';
const partners = [
  {
    id: 7,
    name: 'Priya Raman',
    email: 'priya@example.com',
    phone: false,
    mobile: '+447911123401',
    street: '5 Wharf St',
    street2: false,
    city: 'Leeds',
    zip: 'LS2 7EQ',
    state_id: false,
    country_id: [231, 'United Kingdom'],
    is_company: false,
    parent_id: [12, 'Raman Trading Ltd'] as [number, string] | false,
    function: 'Buyer',
    company_name: false,
    website: false,
    vat: false,
    industry_id: false as [number, string] | false,
    ref: 'C007',
    customer_rank: 3,
    write_date: '2024-01-10 08:00:00',
  },
  {
    id: 12,
    name: 'Raman Trading Ltd',
    email: 'accounts@raman.example',
    phone: '+441134960000',
    mobile: false,
    street: '5 Wharf St',
    street2: false,
    city: 'Leeds',
    zip: 'LS2 7EQ',
    state_id: false,
    country_id: [231, 'United Kingdom'],
    is_company: true,
    parent_id: false,
    function: false,
    company_name: false,
    website: 'https://www.raman.example',
    vat: 'GB 123 4567 89',
    industry_id: [4, 'Wholesale'],
    ref: 'C012',
    customer_rank: 5,
    write_date: '2024-01-11 08:00:00',
  },
  {
    // Entered as an individual; turned into the company it is by the incremental sync's time.
    id: 15,
    name: 'Okafor Consulting',
    email: 'hello@okafor.example',
    phone: false,
    mobile: false,
    street: false,
    street2: false,
    city: 'Leeds',
    zip: 'LS1 4AP',
    state_id: false,
    country_id: [231, 'United Kingdom'],
    is_company: false,
    parent_id: false,
    function: false,
    company_name: false,
    website: false,
    vat: false,
    industry_id: false,
    ref: 'C015',
    customer_rank: 1,
    write_date: '2024-01-09 08:00:00',
  },
];
const odooDomains: unknown[] = [];
const odooFields: unknown[] = [];

const expired = (status = 401) => HttpResponse.json({ error: 'expired' }, { status });
const server = setupServer(
  http.get(`${ZENDESK}/api/v2/incremental/users/cursor.json`, ({ request }) => {
    if (request.headers.get('authorization') !== ZENDESK_AUTH)
      return HttpResponse.json({ error: 'Couldn\u2019t authenticate you' }, { status: 401 });
    if (zendeskTooMany > 0) {
      zendeskTooMany--;
      return HttpResponse.json({ error: 'APIRateLimitExceeded' }, { status: 429, headers: { 'retry-after': '1' } });
    }
    const url = new URL(request.url);
    const from = url.searchParams.has('cursor') ? Number(Buffer.from(url.searchParams.get('cursor') as string, 'base64url').toString()) : 0;
    const users = zendeskUsers.slice(from, from + 1);
    const position = from + users.length;
    return HttpResponse.json({
      users,
      after_cursor: Buffer.from(String(position)).toString('base64url'),
      after_url: `${ZENDESK}/api/v2/incremental/users/cursor.json?cursor=${position}`,
      before_cursor: null,
      before_url: null,
      end_of_stream: position >= zendeskUsers.length,
    });
  }),
  // Time-based: the organizations changed at or after start_time, and the last one's time as end_time.
  http.get(`${ZENDESK}/api/v2/incremental/organizations.json`, ({ request }) => {
    if (request.headers.get('authorization') !== ZENDESK_AUTH)
      return HttpResponse.json({ error: 'Couldn\u2019t authenticate you' }, { status: 401 });
    const url = new URL(request.url);
    zendeskOrganizationExports.push(url);
    const start = Number(url.searchParams.get('start_time'));
    const organizations = zendeskOrganizations.filter((o) => Date.parse(o.updated_at) / 1000 >= start);
    const end = organizations.reduce((t, o) => Math.max(t, Date.parse(o.updated_at) / 1000), start);
    return HttpResponse.json({
      organizations,
      count: organizations.length,
      end_of_stream: true,
      end_time: end,
      next_page: `${ZENDESK}/api/v2/incremental/organizations.json?start_time=${end}`,
    });
  }),
  http.all(`${INTERCOM}/*`, ({ request }) => (request.headers.get('authorization') === `Bearer ${INTERCOM_TOKEN}` ? undefined : expired())),
  http.get(`${INTERCOM}/contacts`, ({ request }) => {
    const after = new URL(request.url).searchParams.get('starting_after');
    const from = after ? intercomContacts.findIndex((c) => c.id === after) + 1 : 0;
    const data = intercomContacts.slice(from, from + 1);
    const next = from + 1 < intercomContacts.length ? { next: { page: 2, starting_after: data[0]?.id } } : {};
    return HttpResponse.json({
      type: 'list',
      data,
      total_count: intercomContacts.length,
      pages: { type: 'pages', page: 1, per_page: 1, total_pages: 2, ...next },
    });
  }),
  // One company a page; the scroll_param names the next; the scroll ends with an empty page.
  http.get(`${INTERCOM}/companies/scroll`, ({ request }) => {
    const url = new URL(request.url);
    intercomScrolls.push(url);
    const from = Number(url.searchParams.get('scroll_param')?.replace('scroll-', '') ?? 0);
    const data = intercomCompanies.slice(from, from + 1);
    return HttpResponse.json({ type: 'list', data, pages: null, total_count: null, scroll_param: `scroll-${from + data.length}` });
  }),
  http.post(`${INTERCOM}/contacts/search`, async ({ request }) => {
    const body = (await request.json()) as { query: { value: number } };
    intercomSearches.push(body);
    const data = intercomContacts.filter((c) => c.updated_at > body.query.value);
    return HttpResponse.json({
      type: 'list',
      data,
      total_count: data.length,
      pages: { type: 'pages', page: 1, per_page: 150, total_pages: 1 },
    });
  }),
  http.get(`${MAILCHIMP}/3.0/lists/:list/members`, ({ request }) => {
    if (request.headers.get('authorization') !== `Basic ${Buffer.from(`aurum:${MAILCHIMP_KEY}`).toString('base64')}`) {
      return HttpResponse.json(
        { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title: 'API Key Invalid', status: 401 },
        { status: 401 },
      );
    }
    const url = new URL(request.url);
    mailchimpCalls.push(url);
    const since = url.searchParams.get('since_last_changed');
    const matching = mailchimpMembers.filter((m) => !since || m.last_changed > since);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    return HttpResponse.json({ members: matching.slice(offset, offset + 1000), list_id: 'a6b5da1054', total_items: matching.length });
  }),
);

server.use(
  http.post(`${ODOO}/jsonrpc`, async ({ request }) => {
    const { id, params } = (await request.json()) as { id: number; params: { service: string; method: string; args: unknown[] } };
    if (params.service === 'common' && params.method === 'login') {
      return HttpResponse.json({ jsonrpc: '2.0', id, result: params.args[2] === ODOO_KEY ? 2 : false });
    }
    if (params.args[2] !== ODOO_KEY) {
      return HttpResponse.json({
        jsonrpc: '2.0',
        id,
        error: { code: 200, message: 'Odoo Server Error', data: { name: 'odoo.exceptions.AccessDenied', message: 'Access Denied' } },
      });
    }
    const [domain] = params.args[5] as [unknown[][]];
    odooDomains.push(domain);
    odooFields.push((params.args[6] as { fields: string[] }).fields);
    const since = domain.find((d) => d[0] === 'write_date')?.[2] as string | undefined;
    const { offset = 0, limit = 200 } = params.args[6] as { offset?: number; limit?: number };
    const result = partners.filter((p) => !since || p.write_date >= since).slice(offset, offset + limit);
    return HttpResponse.json({ jsonrpc: '2.0', id, result });
  }),
);

function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-vendors-pull-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  const write = (name: string, yaml: string) => writeFileSync(path.join(dir, 'connectors', `${name}.yaml`), yaml);
  write('support', `type: zendesk\nbaseUrl: ${ZENDESK}\nemail: agent@acme.example\napiToken: zd-token-0123456789\n`);
  write('support-stale', `type: zendesk\nbaseUrl: ${ZENDESK}\nemail: agent@acme.example\napiToken: zd-token-revoked\n`);
  write('messaging', `type: intercom\nbaseUrl: ${INTERCOM}\naccessToken: ${INTERCOM_TOKEN}\n`);
  write('messaging-stale', `type: intercom\nbaseUrl: ${INTERCOM}\naccessToken: expired-token-000\n`);
  write('newsletter', `type: mailchimp\nbaseUrl: ${MAILCHIMP}\napiKey: ${MAILCHIMP_KEY}\nlistId: a6b5da1054\n`);
  write('erp', `type: odoo\nbaseUrl: ${ODOO}\ndatabase: acme\nlogin: sync@acme.example\napiKey: ${ODOO_KEY}\n`);
  write('erp-stale', `type: odoo\nbaseUrl: ${ODOO}\ndatabase: acme\nlogin: sync@acme.example\napiKey: revoked-key-000\n`);
  write('newsletter-stale', `type: mailchimp\nbaseUrl: ${MAILCHIMP}\napiKey: ffffffffffffffffffffffffffffffff-us6\nlistId: a6b5da1054\n`);
  return dir;
}

let t: TestHub;
beforeAll(async () => {
  server.listen({ onUnhandledFrame: 'error' });
  t = await startTestHub({ configDir: workspace() });
});
afterAll(async () => {
  server.close();
  await t?.stop();
});

const profileOf = async (email: string) =>
  (await t.json<{ profiles: Record<string, any>[] }>('GET', `/profiles?email=${email}`)).profiles[0] as Record<string, any>;
const accountsBy = async (externalId: string) =>
  (await t.json<{ accounts: Record<string, any>[] }>('GET', `/accounts?externalId=${externalId}`)).accounts;
const membersOf = async (accountId: string) => (await t.json<{ members: Record<string, any>[] }>('GET', `/accounts/${accountId}`)).members;
const membershipsOf = async (profileId: string) =>
  (await t.json<{ accounts: Record<string, any>[] }>('GET', `/profiles/${profileId}/accounts`)).accounts;

describe('Zendesk sync (incremental user and organization exports)', () => {
  it('exports every user page by page, waits out a 429, and continues from the after_cursor next time', async () => {
    zendeskTooMany = 1;
    const full = await syncNow(t, 'support', { full: true });
    expect(full).toMatchObject({ status: 'succeeded', pages: 3, records: 3, requests: 4 });
    expect(full.cursorTo).toEqual({ afterCursor: Buffer.from('2').toString('base64url'), organizations: { startTime: 1704099600 } });
    zendeskUsers.push({
      ...zendeskUsers[0],
      id: 35438,
      name: 'Lena Berg',
      email: 'lena@example.com',
      updated_at: '2024-02-01T10:00:00Z',
      organization_id: null,
    } as (typeof zendeskUsers)[number]);
    // The organization export is time-based and inclusive: the organization last seen comes again, unchanged.
    expect(await syncNow(t, 'support')).toMatchObject({ status: 'succeeded', records: 2 });
    expect(zendeskOrganizationExports.map((u) => u.searchParams.get('start_time'))).toEqual(['0', '1704099600']);
    await t.settle();
    expect(await profileOf('lena@example.com')).toMatchObject({
      name: { given: 'Lena', family: 'Berg' },
      externalIds: { zendesk: '35438' },
    });
  });

  it('maps organizations into accounts, with the users whose organization_id names them as members', async () => {
    const [organization, ...others] = await accountsBy('zendesk_organization:4112492');
    expect(others).toEqual([]);
    expect(organization).toMatchObject({
      name: 'Raman Trading Ltd',
      domains: ['raman.example'],
      externalIds: { zendesk_organization: '4112492' },
    });
    expect(organization?.['sources']).toContainEqual({ source: 'support', object: 'organization', recordId: '4112492' });
    // An organization is no person.
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?externalId=zendesk:4112492')).profiles).toEqual([]);
    const priya = await profileOf('priya@example.com');
    expect(await membersOf(organization?.['id'])).toContainEqual({
      profileId: priya['id'],
      role: null,
      source: 'support',
      validFrom: expect.any(String),
    });
    const tom = await profileOf('tom@example.com');
    expect((await membershipsOf(tom['id'])).filter((m) => m['source'] === 'support')).toEqual([]);
  });
});

describe('Intercom sync (contacts, then search; companies by scroll)', () => {
  it('lists every contact, then searches for those updated since, with unsubscribed_from_emails as consent', async () => {
    const full = await syncNow(t, 'messaging', { full: true });
    // Two pages of contacts, two of companies and the empty page that ends the scroll.
    expect(full).toMatchObject({
      status: 'succeeded',
      pages: 5,
      records: 4,
      cursorTo: { contacts: { phase: 'search' }, companies: { since: 1704100500 } },
    });
    expect(intercomScrolls.map((u) => u.searchParams.get('scroll_param'))).toEqual([null, 'scroll-1', 'scroll-2']);
    const since = (full.cursorTo as { contacts: { since: number } }).contacts.since;
    (intercomContacts[0] as { updated_at: number; name: string }).updated_at = since + 30;
    (intercomContacts[0] as { updated_at: number; name: string }).name = 'Priya Raman-Shah';
    intercomCompanies[1] = {
      ...(intercomCompanies[1] as ReturnType<typeof intercomCompany>),
      name: 'Okafor Freight Ltd',
      updated_at: 1704200000,
    };
    const incremental = await syncNow(t, 'messaging');
    // The contact searched for, and of the companies scrolled through only the one updated since.
    expect(incremental).toMatchObject({
      status: 'succeeded',
      records: 2,
      cursorTo: { contacts: { phase: 'search', since: since + 30 }, companies: { since: 1704200000 } },
    });
    expect(intercomSearches[0]).toMatchObject({
      query: { field: 'updated_at', operator: '>' },
      sort: { field: 'updated_at', order: 'ascending' },
    });
    await t.settle();
    const tom = await profileOf('tom@example.com');
    expect(tom['externalIds']).toMatchObject({ intercom: '65a2', intercomExternal: 'crm-9' });
    expect(tom['consent']).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'denied' }));
    expect(await accountsBy('intercom_company:6585c8a1f2c9e3b0a1d2e3f5')).toMatchObject([{ name: 'Okafor Freight Ltd' }]);
  });

  it('maps companies into accounts, with the contacts that list them as members', async () => {
    const [company] = await accountsBy('intercom_company:6585c8a1f2c9e3b0a1d2e3f4');
    expect(company).toMatchObject({ name: 'Raman Trading Ltd', domains: ['raman.example'], industry: 'Wholesale' });
    expect(company?.['sources']).toContainEqual({ source: 'messaging', object: 'company', recordId: '6585c8a1f2c9e3b0a1d2e3f4' });
    const priya = await profileOf('priya@example.com');
    expect(await membersOf(company?.['id'])).toContainEqual({
      profileId: priya['id'],
      role: null,
      source: 'messaging',
      validFrom: expect.any(String),
    });
    const tom = await profileOf('tom@example.com');
    expect((await membershipsOf(tom['id'])).filter((m) => m['source'] === 'messaging')).toEqual([]);
  });
});

describe('Mailchimp sync (audience members)', () => {
  it('pulls every member, then those changed since the last change seen, with status and permissions as consent', async () => {
    const full = await syncNow(t, 'newsletter', { full: true });
    expect(full).toMatchObject({ status: 'succeeded', records: 3, cursorTo: { since: '2024-01-07T10:00:00+00:00' } });
    expect(mailchimpCalls[0]?.searchParams.get('count')).toBe('1000');
    expect(mailchimpCalls[0]?.searchParams.has('since_last_changed')).toBe(false);
    mailchimpMembers[2] = {
      ...(mailchimpMembers[2] as ReturnType<typeof member>),
      status: 'unsubscribed',
      last_changed: '2024-03-01T09:00:00+00:00',
    };
    const incremental = await syncNow(t, 'newsletter');
    expect(incremental).toMatchObject({ status: 'succeeded', records: 1, cursorTo: { since: '2024-03-01T09:00:00+00:00' } });
    expect(mailchimpCalls.at(-1)?.searchParams.get('since_last_changed')).toBe('2024-01-07T10:00:00+00:00');
    await t.settle();
    const ada = await profileOf('ada@example.com');
    expect(ada['consent']).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'denied' }));
    const priya = await profileOf('priya@example.com');
    expect(priya['consent']).toContainEqual(expect.objectContaining({ purpose: 'marketing.email', status: 'granted' }));
  });
});

describe('Odoo sync (res.partner by JSON-RPC)', () => {
  it('reads every customer, then those written since, and maps people with their company', async () => {
    const full = await syncNow(t, 'erp', { full: true });
    expect(full).toMatchObject({ status: 'succeeded', records: 3, cursorTo: { since: '2024-01-11 08:00:00' } });
    expect(odooDomains[0]).toEqual([
      ['customer_rank', '>', 0],
      ['active', 'in', [true, false]],
    ]);
    // Search_read returns the fields asked for only: the mappings' company fields among them.
    expect(odooFields[0]).toEqual(expect.arrayContaining(['parent_id', 'function', 'is_company', 'website', 'vat', 'industry_id']));
    await t.settle();
    const okafor = await profileOf('hello@okafor.example');
    expect(okafor).toMatchObject({ name: { full: 'Okafor Consulting' }, externalIds: { odoo: '15' } });

    partners[0] = { ...(partners[0] as (typeof partners)[number]), city: 'York', write_date: '2024-02-01 08:00:00' };
    partners[2] = { ...(partners[2] as (typeof partners)[number]), is_company: true, write_date: '2024-02-02 08:00:00' };
    expect(await syncNow(t, 'erp')).toMatchObject({ status: 'succeeded', records: 3, cursorTo: { since: '2024-02-02 08:00:00' } });
    expect(odooDomains.at(-1)).toContainEqual(['write_date', '>=', '2024-01-11 08:00:00']);
    await t.settle();
    const priya = await profileOf('priya@example.com');
    expect(priya).toMatchObject({ company: 'Raman Trading Ltd', externalIds: { odoo: '7' } });
    expect(priya['addresses']).toContainEqual(expect.objectContaining({ city: 'York', country: 'United Kingdom', postalCode: 'LS2 7EQ' }));
    expect(priya['addresses']).not.toContainEqual(expect.objectContaining({ line1: '5 Wharf St', city: 'Leeds' }));

    // The partner turned into a company left its person's golden record, and is an account now.
    expect(await profileOf('hello@okafor.example')).toBeUndefined();
    expect((await t.json('GET', `/profiles/${okafor['id']}`)).sources).toEqual([]);
    expect(await accountsBy('odoo:15')).toMatchObject([
      { name: 'Okafor Consulting', emails: ['hello@okafor.example'], sources: [{ source: 'erp', object: 'company', recordId: '15' }] },
    ]);
  });

  it('maps companies into accounts, with the people whose parent_id names them as members, in their function', async () => {
    const [raman, ...others] = await accountsBy('odoo:12');
    expect(others).toEqual([]);
    expect(raman).toMatchObject({
      name: 'Raman Trading Ltd',
      domains: ['raman.example'],
      emails: ['accounts@raman.example'],
      phones: ['+441134960000'],
      registrationIds: { vat: 'GB123456789' },
      industry: 'Wholesale',
    });
    expect(raman?.['sources']).toContainEqual({ source: 'erp', object: 'company', recordId: '12' });
    // A company is no person, however much its address book entry looks like one.
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?externalId=odoo:12')).profiles).toEqual([]);
    const priya = await profileOf('priya@example.com');
    expect(await membersOf(raman?.['id'])).toContainEqual({
      profileId: priya['id'],
      role: 'Buyer',
      source: 'erp',
      validFrom: expect.any(String),
    });
    expect(await membershipsOf(priya['id'])).toContainEqual({
      accountId: raman?.['id'],
      ambiguous: false,
      ref: { externalIds: { odoo: '12' } },
      role: 'Buyer',
      source: 'erp',
      validFrom: expect.any(String),
      validTo: null,
    });
  });

  it('one company known to Zendesk, Intercom and Odoo is one account, linked on its domain', async () => {
    const [byOdoo] = await accountsBy('odoo:12');
    const [byZendesk] = await accountsBy('zendesk_organization:4112492');
    const [byIntercom] = await accountsBy('intercom_company:6585c8a1f2c9e3b0a1d2e3f4');
    expect(byZendesk?.['id']).toBe(byOdoo?.['id']);
    expect(byIntercom?.['id']).toBe(byOdoo?.['id']);
    const priya = await profileOf('priya@example.com');
    const members = await membersOf(byOdoo?.['id']);
    expect(members.filter((m) => m['profileId'] === priya['id']).map((m) => m['source'])).toEqual(
      expect.arrayContaining(['support', 'messaging', 'erp']),
    );
  });
});

describe('expired or revoked credentials', () => {
  it.each([
    ['Zendesk', 'support-stale'],
    ['Intercom', 'messaging-stale'],
    ['Mailchimp', 'newsletter-stale'],
    ['Odoo', 'erp-stale'],
  ])('%s: the run stops at once with auth_failed, without retrying', async (_vendor, source) => {
    expect(await syncNow(t, source, { full: true })).toMatchObject({ status: 'failed', requests: 1, error: { code: 'auth_failed' } });
  });
});

/**
 * Each vendor's own way of saying "slow down" and "not now", as its reference documents them. The
 * client must wait as asked (Retry-After, or Intercom's X-RateLimit-Reset), back off on 5xx, and
 * finish the run with nothing lost.
 */
describe('rate limits and server errors', () => {
  const problem = (status: number, title: string, detail: string) =>
    HttpResponse.json(
      { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title, status, detail, instance: 'f1e2d3c4' },
      { status, headers: { 'content-type': 'application/problem+json' } },
    );
  const cases: [vendor: string, source: string, method: 'get' | 'post', url: string, faults: (() => Response)[], waitsMs: number][] = [
    [
      'Zendesk',
      'support',
      'get',
      `${ZENDESK}/api/v2/incremental/users/cursor.json`,
      [
        () =>
          HttpResponse.json(
            { error: 'APIRateLimitExceeded', description: 'Number of allowed API requests per minute exceeded' },
            { status: 429, headers: { 'retry-after': '1' } },
          ),
        () => HttpResponse.json({ error: 'ServiceUnavailable', description: 'Zendesk is undergoing maintenance' }, { status: 503 }),
      ],
      1000,
    ],
    [
      'Intercom',
      'messaging',
      'post',
      `${INTERCOM}/contacts/search`,
      [
        () =>
          HttpResponse.json(
            {
              type: 'error.list',
              request_id: 'req-1',
              errors: [{ code: 'rate_limit_exceeded', message: 'Exceeded rate limit of 1000 in 60 seconds' }],
            },
            {
              status: 429,
              headers: {
                'x-ratelimit-limit': '1000',
                'x-ratelimit-remaining': '0',
                'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1),
              },
            },
          ),
        () =>
          HttpResponse.json(
            { type: 'error.list', request_id: 'req-2', errors: [{ code: 'server_error', message: 'Server Error' }] },
            { status: 500 },
          ),
      ],
      1000,
    ],
    [
      'Mailchimp',
      'newsletter',
      'get',
      `${MAILCHIMP}/3.0/lists/:list/members`,
      [
        () => problem(429, 'Too Many Requests', 'You have exceeded the limit of 10 simultaneous connections.'),
        () => problem(503, 'Service Unavailable', 'This service is temporarily unavailable.'),
      ],
      0,
    ],
    [
      'Odoo',
      'erp',
      'post',
      `${ODOO}/jsonrpc`,
      [
        // Odoo itself does not rate-limit; the proxy in front of it (Odoo.sh's nginx) does, in HTML.
        () =>
          new HttpResponse('<html><body><h1>429 Too Many Requests</h1></body></html>', { status: 429, headers: { 'retry-after': '1' } }),
        () => new HttpResponse('<html><body><h1>502 Bad Gateway</h1></body></html>', { status: 502 }),
      ],
      1000,
    ],
  ];

  it.each(cases)(
    '%s: the run waits as asked, retries, and succeeds with nothing lost',
    async (_vendor, source, method, url, faults, waitsMs) => {
      const clean = await syncNow(t, source);
      expect(clean.status).toBe('succeeded');
      const times: number[] = [];
      const onRequest = ({ request }: { request: Request }) => {
        if (request.url.startsWith(url.split(':list')[0] as string)) times.push(Date.now());
      };
      server.events.on('request:start', onRequest);
      server.use(...faults.map((fault) => http[method](url, (() => fault()) as HttpResponseResolver, { once: true })));
      try {
        const run = await syncNow(t, source);
        expect(run).toMatchObject({ status: 'succeeded', records: clean.records, requests: clean.requests + 2, error: null });
        expect(run.cursorTo).toEqual(clean.cursorTo);
        // The request after the 429 waited as long as the vendor asked.
        if (waitsMs > 0) expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(waitsMs - 50);
      } finally {
        server.events.removeListener('request:start', onRequest);
      }
    },
  );
});
