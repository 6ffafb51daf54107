import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { SECRETS, startTestHub, type TestHub } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';
import { writeWorkspace } from './helpers/workspace.ts';

/**
 * An ERP whose partners are companies and people in one object (Odoo's res.partner), a CRM of
 * people, and a second ERP-like source of companies: accounts of their own, people linked to them.
 */
const workspace = () =>
  writeWorkspace({
    'connectors/erp.yaml': 'type: webhook\nsecret: ${CRM_SECRET}\npriority: 10\n',
    'connectors/crm.yaml': 'type: webhook\nsecret: ${SHOP_SECRET}\n',
    'mappings/erp-company.yaml': `source: erp
object: company
when: is_company = true
recordId: id
account: |
  { "name": name, "domains": [website], "emails": [email], "phones": [phone], "externalIds": {"erp": $string(id)},
    "registrationIds": {"vat": vat}, "addresses": [{"postalCode": zip, "city": city}] }
`,
    'mappings/erp-contact.yaml': `source: erp
object: contact
when: is_company = false
recordId: id
deleted: active = false
profile: |
  { "name": name, "emails": [email], "externalIds": {"erp": $string(id)},
    "accounts": parent_id ? [{"ref": {"externalIds": {"erp": $string(parent_id[0])}}, "role": function}] : [] }
`,
    'mappings/crm-contact.yaml': `source: crm
object: contact
recordId: id
profile: |
  { "name": {"given": first, "family": last}, "emails": [email], "externalIds": {"crm": id},
    "accounts": [company_domain ? {"ref": {"domain": company_domain}, "role": "contact"}, company_name ? {"ref": {"name": company_name}}] }
`,
  });

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ configDir: workspace() });
});
afterAll(() => t.stop());

const erp = (r: Record<string, unknown>) => t.postWebhook('erp', JSON.stringify(r), SECRETS.CRM_SECRET);
const crm = (r: Record<string, unknown>) => t.postWebhook('crm', JSON.stringify(r), SECRETS.SHOP_SECRET);
const accountsBy = async (query: string) => (await t.json<{ accounts: any[] }>('GET', `/accounts?${query}`)).accounts;

describe('an Odoo company and a person sharing its mailbox', () => {
  it('are one account and one person, linked', async () => {
    await erp({
      id: 1,
      is_company: true,
      name: 'Acme Ltd',
      email: 'info@acme.example',
      website: 'https://www.Acme.example/about',
      vat: 'GB 123 4567 89',
      zip: 'EC1A 1BB',
      city: 'London',
    });
    await erp({ id: 2, is_company: false, name: 'Ada Lovelace', email: 'info@acme.example', parent_id: [1, 'Acme Ltd'], function: 'CTO' });
    await t.settle();

    const [account, ...otherAccounts] = await accountsBy('domain=acme.example');
    expect(otherAccounts).toHaveLength(0);
    expect(account).toMatchObject({
      name: 'Acme Ltd',
      domains: ['acme.example'],
      emails: ['info@acme.example'],
      registrationIds: { vat: 'GB123456789' },
      externalIds: { erp: '1' },
    });
    const [person, ...otherPeople] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=info%40acme.example')).profiles;
    expect(otherPeople).toHaveLength(0);
    expect(person.name.full).toBe('Ada Lovelace');
    expect(person.company).toBeUndefined();
    // A person id is no account, and an account id no profile.
    expect((await t.call('GET', `/accounts/${person.id}`)).status).toBe(404);
    expect((await t.call('GET', `/profiles/${account.id}`)).status).toBe(404);

    const full = await t.json('GET', `/accounts/${account.id}`);
    expect(full.members).toEqual([{ profileId: person.id, role: 'CTO', source: 'erp', validFrom: expect.any(String) }]);
    const memberships = await t.json('GET', `/profiles/${person.id}/accounts`);
    expect(memberships.accounts).toEqual([
      {
        accountId: account.id,
        ambiguous: false,
        ref: { externalIds: { erp: '1' } },
        role: 'CTO',
        source: 'erp',
        validFrom: expect.any(String),
        validTo: null,
      },
    ]);
  });

  it('a person is never merged with an account, however much they share', async () => {
    // Same name, email and phone as a company: still a person of its own.
    await erp({ id: 3, is_company: true, name: 'Grace Hopper', email: 'grace@navy.example', phone: '+442079460018' });
    await crm({ id: 'g1', first: 'Grace', last: 'Hopper', email: 'grace@navy.example' });
    await t.settle();
    const [account] = await accountsBy('externalId=erp:3');
    const [person] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=grace%40navy.example')).profiles;
    expect(account.sources).toEqual([{ source: 'erp', object: 'company', recordId: '3' }]);
    expect(person.sources).toEqual([{ source: 'crm', object: 'contact', recordId: 'g1' }]);
  });
});

describe('account resolution', () => {
  it('links accounts on a domain, a registration id or an external id, never on a free-mail domain', async () => {
    await erp({ id: 10, is_company: true, name: 'Globex Corporation', website: 'globex.example' });
    await erp({ id: 11, is_company: true, name: 'Globex', website: 'http://globex.example/contact' });
    await erp({ id: 12, is_company: true, name: 'Initech', website: 'gmail.com' });
    await erp({ id: 13, is_company: true, name: 'Umbrella', website: 'gmail.com' });
    await t.settle();
    const globex = await accountsBy('domain=globex.example');
    expect(globex).toHaveLength(1);
    expect(globex[0].sources.map((s: any) => s.recordId)).toEqual(['10', '11']);
    const matches = await t.json('GET', `/accounts/${globex[0].id}/matches`);
    expect(matches.members.find((m: any) => m.recordId === '11').linkedBy).toMatchObject({ rule: 'domains' });
    const initech = await accountsBy('externalId=erp:12');
    const umbrella = await accountsBy('externalId=erp:13');
    expect(initech[0].id).not.toBe(umbrella[0].id);
  });

  it('links accounts probabilistically on the name without its legal form and the postcode', async () => {
    await erp({ id: 20, is_company: true, name: 'Wayne Enterprises Ltd', zip: 'GC1 1AA', city: 'Gotham' });
    await erp({ id: 21, is_company: true, name: 'WAYNE ENTERPRISES LIMITED', zip: 'GC1 1AA', city: 'Gotham' });
    // Same name elsewhere: another company.
    await erp({ id: 22, is_company: true, name: 'Wayne Enterprises Inc', zip: '10001', city: 'New York' });
    await t.settle();
    const [a] = await accountsBy('externalId=erp:20');
    const [b] = await accountsBy('externalId=erp:21');
    const [c] = await accountsBy('externalId=erp:22');
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
    const matches = await t.json('GET', `/accounts/${a.id}/matches`);
    expect(matches.members.find((m: any) => m.recordId === '21').linkedBy).toMatchObject({
      rule: 'probabilistic',
      levels: { name: 'exact', 'addresses.postalCode': 'exact' },
    });
    // Search by name, legal form or not.
    const found = await accountsBy('q=wayne');
    expect(found.map((f: any) => f.id).sort()).toEqual([a.id, c.id].sort());
    const [first] = await accountsBy('q=Wayne%20Enterprises%20Corporation');
    expect([a.id, c.id]).toContain(first.id);
  });

  it('are found by registration id, whatever its spacing, and refuse a cursor they did not give', async () => {
    const [acme] = await accountsBy('registrationId=vat:gb%20123-4567-89');
    expect(acme.name).toBe('Acme Ltd');
    expect((await t.call('GET', '/accounts?registrationId=GB123')).status).toBe(400);
    const bad = await t.call('GET', '/accounts?domain=acme.example&cursor=garbage');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('invalid_request');
  });
});

describe('memberships', () => {
  it('a reference to an account that has not arrived is kept and linked when it arrives', async () => {
    await crm({ id: 'p1', first: 'Alan', last: 'Turing', email: 'alan@bletchley.example', company_domain: 'https://bletchley.example' });
    await t.settle();
    const [alan] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=alan%40bletchley.example')).profiles;
    const before = await t.json('GET', `/profiles/${alan.id}/accounts`);
    expect(before.accounts).toMatchObject([{ accountId: null, ref: { domain: 'bletchley.example' }, role: 'contact', validTo: null }]);

    await erp({ id: 30, is_company: true, name: 'Bletchley Park', website: 'www.bletchley.example' });
    await t.settle();
    const [park] = await accountsBy('domain=bletchley.example');
    const after = await t.json('GET', `/profiles/${alan.id}/accounts`);
    expect(after.accounts[0].accountId).toBe(park.id);
    expect((await t.json('GET', `/accounts/${park.id}`)).members.map((m: any) => m.profileId)).toEqual([alan.id]);
  });

  it('a membership the source stops stating is closed, not deleted', async () => {
    await erp({ id: 40, is_company: true, name: 'Hooli', website: 'hooli.example' });
    await erp({ id: 41, is_company: false, name: 'Gavin Belson', email: 'gavin@hooli.example', parent_id: [40, 'Hooli'], function: 'CEO' });
    await t.settle();
    const [hooli] = await accountsBy('domain=hooli.example');
    expect((await t.json('GET', `/accounts/${hooli.id}`)).members).toHaveLength(1);

    await erp({ id: 41, is_company: false, name: 'Gavin Belson', email: 'gavin@hooli.example', parent_id: false, function: 'CEO' });
    await t.settle();
    expect((await t.json('GET', `/accounts/${hooli.id}`)).members).toEqual([]);
    const [gavin] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=gavin%40hooli.example')).profiles;
    const { accounts } = await t.json('GET', `/profiles/${gavin.id}/accounts`);
    expect(accounts).toEqual([expect.objectContaining({ accountId: hooli.id, role: 'CEO', validTo: expect.any(String) })]);
    expect(Date.parse(accounts[0].validTo)).toBeGreaterThanOrEqual(Date.parse(accounts[0].validFrom));
  });
});

describe('ambiguous references', () => {
  it('a name two accounts answer to names neither, and says so', async () => {
    await erp({ id: 70, is_company: true, name: 'Initech GmbH', zip: '10115', city: 'Berlin' });
    await erp({ id: 71, is_company: true, name: 'Initech Inc.', zip: '78701', city: 'Austin' });
    await crm({
      id: 'm1',
      first: 'Milton',
      last: 'Waddams',
      email: 'milton@initech.example',
      company_domain: null,
      company_name: 'Initech',
    });
    await t.settle();
    const [berlin] = await accountsBy('externalId=erp:70');
    const [austin] = await accountsBy('externalId=erp:71');
    expect(berlin.id).not.toBe(austin.id);
    const [milton] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=milton%40initech.example')).profiles;
    const { accounts } = await t.json('GET', `/profiles/${milton.id}/accounts`);
    expect(accounts).toMatchObject([{ accountId: null, ambiguous: true, ref: { name: 'Initech' } }]);
    expect((await t.json('GET', `/accounts/${berlin.id}`)).members).toEqual([]);
    expect((await t.json('GET', `/accounts/${austin.id}`)).members).toEqual([]);
  });
});

describe('person decisions and their accounts', () => {
  it('a forced merge of two members leaves the account listing the survivor', async () => {
    await erp({ id: 80, is_company: true, name: 'Tyrell Corporation', website: 'tyrell.example' });
    await erp({ id: 81, is_company: false, name: 'Rachael Tyrell', email: 'rachael@tyrell.example', parent_id: [80, 'Tyrell'] });
    await crm({ id: 'r2', first: 'Rachael', last: 'T', email: 'rachael.t@replicant.example', company_domain: 'tyrell.example' });
    await t.settle();
    const [tyrell] = await accountsBy('domain=tyrell.example');
    const [erpRachael] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=rachael%40tyrell.example')).profiles;
    const [crmRachael] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=rachael.t%40replicant.example')).profiles;
    expect(erpRachael.id).not.toBe(crmRachael.id);
    const merged = await t.json('POST', '/profiles/merge', { ids: [erpRachael.id, crmRachael.id] });
    const { members } = await t.json('GET', `/accounts/${tyrell.id}`);
    expect([...new Set(members.map((m: any) => m.profileId))]).toEqual([merged.profile.id]);
    const stored = await t.testDb.database.db.execute(sql`select members from golden_records where profile_id = ${tyrell.id}`);
    expect(new Set((rowsOf<{ members: any[] }>(stored)[0]?.members ?? []).map((m) => m.profileId))).toEqual(new Set([merged.profile.id]));
  });
});

describe('golden records of accounts', () => {
  it('keep lineage and history, and merge and split by hand as profiles do', async () => {
    await erp({ id: 50, is_company: true, name: 'Stark Industries', website: 'stark.example', phone: '+442079460019' });
    await erp({ id: 51, is_company: true, name: 'Stark Ind.', website: 'starkindustries.example' });
    await t.settle();
    const [a] = await accountsBy('externalId=erp:50');
    const [b] = await accountsBy('externalId=erp:51');
    expect(a.id).not.toBe(b.id);

    const merged = await t.json('POST', '/accounts/merge', { ids: [a.id, b.id], reason: 'same company, renamed' });
    expect(merged.account.id).toBe(a.id);
    expect(merged.account.domains.sort()).toEqual(['stark.example', 'starkindustries.example']);
    const lineage = await t.json('GET', `/accounts/${a.id}/lineage`);
    expect(lineage.fields.name).toMatchObject({ source: 'erp', value: expect.any(String) });
    expect(lineage.fields.domains).toHaveLength(2);
    const retired = await t.json('GET', `/accounts/${b.id}`);
    expect(retired.id).toBe(a.id);

    const split = await t.call('POST', `/accounts/${a.id}/split`, { records: [{ source: 'erp', recordId: '51' }] });
    expect(split.status).toBe(201);
    const body: any = await split.json();
    expect(body.split.domains).toEqual(['starkindustries.example']);
    const history = await t.json('GET', `/accounts/${a.id}/history`);
    expect(history.history.map((h: any) => h.kind)).toEqual(['manual', 'split']);

    // Merging a person with an account is refused: the person is not an account.
    const [person] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=grace%40navy.example')).profiles;
    const mixed = await t.call('POST', '/accounts/merge', { ids: [a.id, person.id] });
    expect(mixed.status).toBe(404);
    expect(((await mixed.json()) as any).error.code).toBe('account_not_found');
    const mixedProfiles = await t.call('POST', '/profiles/merge', { ids: [person.id, a.id] });
    expect(mixedProfiles.status).toBe(404);
  });
});

describe('delivery beside accounts', () => {
  it('delivers a person whose batch also held a company and a membership (accounts never stop a person’s news)', async () => {
    const receiver = await startReceiver();
    try {
      const created = await t.json('POST', '/destinations', { url: receiver.url('/people') });
      receiver.trust('/people', created.secret);
      await erp([
        { id: 60, is_company: true, name: 'Cyberdyne Systems', website: 'cyberdyne.example' },
        { id: 61, is_company: false, name: 'Miles Dyson', email: 'miles@cyberdyne.example', parent_id: [60, 'Cyberdyne'] },
      ] as never);
      await t.settle();
      const [miles] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=miles%40cyberdyne.example')).profiles;
      const deadline = Date.now() + 20_000;
      while (!receiver.received.some((r) => r.json.profile?.id === miles.id) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const sent = receiver.received.filter((r) => r.path === '/people');
      expect(sent.map((r) => [r.json.event, r.json.profile?.id])).toContainEqual(['profile.updated', miles.id]);
      // A destination that did not ask for accounts hears nothing of them.
      expect(sent.every((r) => String(r.json.event).startsWith('profile.'))).toBe(true);
      await t.call('DELETE', `/destinations/${created.id}`);
    } finally {
      await receiver.close();
    }
  });
});
