/**
 * A bad value is dropped, not the record: an invalid email, phone, date or domain, or a value
 * identity.yaml blocks, leaves the fragment and is recorded as a violation of the record (shown by
 * `GET /records/:source/:recordId`, counted by `GET /quality/violations`); the record goes on. A
 * mapping with `onInvalid: quarantine` quarantines the record as before, and so is a record left
 * with nothing that identifies it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';
import { writeWorkspace } from './helpers/workspace.ts';

const workspace = writeWorkspace({
  'connectors/crm.yaml': 'type: webhook\nsecret: ${CRM_SECRET}\npriority: 20\n',
  'connectors/shop.yaml': 'type: webhook\nsecret: ${SHOP_SECRET}\n',
  'mappings/crm-contact.yaml': `source: crm
object: contact
when: type = "contact"
recordId: id
profile: |
  {
    "name": { "given": first_name, "family": last_name },
    "emails": [email, alt_email],
    "phones": [phone],
    "dateOfBirth": birthday,
    "addresses": { "line1": street, "city": city, "postalCode": postcode },
    "externalIds": { "crm": id }
  }
`,
  // Web-form leads: nothing but the contact details typed in.
  'mappings/crm-lead.yaml': `source: crm
object: lead
when: type = "lead"
recordId: id
profile: |
  { "emails": [email], "phones": [phone] }
`,
  'mappings/crm-company.yaml': `source: crm
object: company
when: type = "company"
recordId: id
account: |
  { "name": name, "domains": [website], "registrationIds": { "vat": vat }, "externalIds": { "crm": id } }
`,
  'mappings/shop-customer.yaml': `source: shop
object: customer
recordId: customer_id
onInvalid: quarantine
profile: |
  { "name": { "full": full_name }, "emails": [email_address], "phones": [mobile], "externalIds": { "shop": customer_id } }
`,
});

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ configDir: workspace });
});
afterAll(async () => {
  await t?.stop();
});

const send = async (source: string, record: Record<string, unknown>) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const quarantined = async (source: string) =>
  (await t.json<{ items: { code: string; message: string; payload: Record<string, unknown> }[] }>('GET', `/quarantine?source=${source}`))
    .items;
const counts = async (query = '') => {
  const response = await t.as('ops', 'GET', `/quality/violations${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { violations: Record<string, unknown>[] }).violations;
};

const ADA = {
  type: 'contact',
  id: 'v-1',
  first_name: 'Ada',
  last_name: 'Lovelace',
  email: 'n/a',
  alt_email: 'ada.l@example.com',
  // A fictional number (555 01xx), and a day February never had.
  phone: '+1 555 0100',
  birthday: '1815-02-30',
  street: '12 St James’s Square',
  city: 'London',
  postcode: 'SW1Y 4JH',
};

describe('a record with invalid values', () => {
  it('keeps its name and address without them, and links', async () => {
    await send('crm', ADA);
    await send('shop', { customer_id: 's-1', full_name: 'Ada Lovelace', email_address: 'ada.l@example.com' });
    expect(await quarantined('crm')).toEqual([]);
    const { profiles } = await t.json<{ profiles: Record<string, any>[] }>('GET', '/profiles?externalId=crm:v-1');
    const [ada] = profiles;
    expect(ada).toMatchObject({
      name: { given: 'Ada', family: 'Lovelace' },
      emails: ['ada.l@example.com'],
      addresses: [{ line1: '12 St James’s Square', city: 'London', postalCode: 'SW1Y 4JH' }],
      externalIds: { crm: 'v-1', shop: 's-1' },
    });
    expect(ada?.phones ?? []).toEqual([]);
    expect(ada?.dateOfBirth).toBeUndefined();
    expect(ada?.sources).toHaveLength(2);
  });

  it('shows each dropped value on GET /records/:source/:recordId, with its field and why', async () => {
    const response = await t.as('compliance', 'GET', '/records/crm/v-1');
    expect(response.status).toBe(200);
    const { records } = (await response.json()) as { records: { fragment: Record<string, unknown>; violations: unknown[] }[] };
    expect(records).toHaveLength(1);
    expect(records[0]?.violations).toEqual([
      { field: 'emails', kind: 'email_invalid', message: 'not a valid email address', value: 'n/a' },
      { field: 'phones', kind: 'phone_invalid', message: 'not a valid phone number', value: '+1 555 0100' },
      { field: 'dateOfBirth', kind: 'date_invalid', message: expect.stringContaining('calendar date'), value: '1815-02-30' },
    ]);
    expect(records[0]?.fragment).not.toHaveProperty('phones');
    expect(records[0]?.fragment).not.toHaveProperty('dateOfBirth');
  });

  it('drops what identity.yaml blocks, and an account’s invalid domain, the same way', async () => {
    await send('crm', { type: 'contact', id: 'v-2', first_name: 'Pat', email: 'TEST@example.com' });
    await send('crm', { type: 'company', id: 'co-1', name: 'Analytical Engines', website: 'analytical dot example', vat: 'N/A' });
    const pat = (await t.json('GET', '/records/crm/v-2')).records[0];
    expect(pat.violations).toEqual([{ field: 'emails', kind: 'blocked_value', message: expect.any(String), value: 'test@example.com' }]);
    const company = (await t.json('GET', '/records/crm/co-1')).records[0];
    expect(company.fragment).toEqual({ name: 'Analytical Engines', externalIds: { crm: 'co-1' } });
    expect(company.violations.map((v: { field: string; kind: string }) => [v.field, v.kind])).toEqual([
      ['domains', 'domain_invalid'],
      ['registrationIds', 'blocked_value'],
    ]);
  });

  it('counts the violations per source, field and kind on GET /quality/violations, without values', async () => {
    await send('crm', { ...ADA, id: 'v-3', first_name: 'Augusta', alt_email: 'augusta@example.com', birthday: '1815-12-10' });
    const all = await counts();
    expect(all).toEqual([
      { source: 'crm', field: 'dateOfBirth', kind: 'date_invalid', violations: 1, records: 1 },
      { source: 'crm', field: 'domains', kind: 'domain_invalid', violations: 1, records: 1 },
      { source: 'crm', field: 'emails', kind: 'blocked_value', violations: 1, records: 1 },
      { source: 'crm', field: 'emails', kind: 'email_invalid', violations: 2, records: 2 },
      { source: 'crm', field: 'phones', kind: 'phone_invalid', violations: 2, records: 2 },
      { source: 'crm', field: 'registrationIds', kind: 'blocked_value', violations: 1, records: 1 },
    ]);
    expect(JSON.stringify(all)).not.toMatch(/555|n\/a|1815|example/);
    expect(await counts('?source=crm&field=phones')).toEqual([
      { source: 'crm', field: 'phones', kind: 'phone_invalid', violations: 2, records: 2 },
    ]);
    expect(await counts('?source=shop')).toEqual([]);
    expect((await t.as('reader', 'GET', '/quality/violations')).status).toBe(403);
  });

  it('counts a record by its latest version: a corrected record has no violations left', async () => {
    const corrected = { id: 'v-3', first_name: 'Augusta', email: 'augusta.k@example.com', alt_email: null, phone: '020 7946 0018' };
    await send('crm', { ...ADA, ...corrected, birthday: '1815-12-10' });
    expect((await t.json('GET', '/records/crm/v-3')).records[0].violations).toEqual([]);
    expect(await counts('?field=phones')).toEqual([{ source: 'crm', field: 'phones', kind: 'phone_invalid', violations: 1, records: 1 }]);
  });
});

describe('a record quarantined whole', () => {
  it('under onInvalid: quarantine, as before, naming the field but not the value', async () => {
    await send('shop', { customer_id: 's-2', full_name: 'Grace Hopper', email_address: 'grace@example.com', mobile: '+1 555 0101' });
    const [entry, ...others] = await quarantined('shop');
    expect(others).toEqual([]);
    expect(entry).toMatchObject({ code: 'schema_invalid', payload: { customer_id: 's-2' } });
    expect(entry?.message).toContain('phones/0');
    expect(entry?.message).not.toContain('555');
    expect((await t.as('compliance', 'GET', '/records/shop/s-2')).status).toBe(404);
  });

  it('when nothing that identifies it is left once its invalid values are dropped', async () => {
    await send('crm', { type: 'lead', id: 'l-1', email: 'a..b@x.org', phone: '12345' });
    const entries = (await quarantined('crm')).filter((e) => e.payload['id'] === 'l-1');
    expect(entries).toEqual([
      expect.objectContaining({ code: 'schema_invalid', message: expect.stringContaining('nothing that identifies the record') }),
    ]);
    expect(entries[0]?.message).toMatch(/emails\/0.*phones\/0/);
    expect(entries[0]?.message).not.toMatch(/a\.\.b|12345/);
    expect((await t.as('compliance', 'GET', '/records/crm/l-1')).status).toBe(404);
  });
});

describe('an erasure', () => {
  it('takes the dropped values with the records that held them', async () => {
    const [ada] = (await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?externalId=crm:v-1')).profiles;
    await t.json('POST', `/profiles/${ada?.id}/erase`, { reason: 'test' });
    expect(await t.count(`source_records where violations::text like '%555 0100%'`)).toBe(0);
    expect(await counts('?field=dateOfBirth')).toEqual([]);
  });
});
