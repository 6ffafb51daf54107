/**
 * A mapping edited on disk is applied to the records already stored: after a restart or a reload,
 * the records an older version of it made are mapped again from their latest raw record, in the
 * background, with progress at GET /rebuilds, and destinations hear only of profiles that changed.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { ingest } from '../src/pipeline/ingest-job.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';
import { writeWorkspace } from './helpers/workspace.ts';

/** The CRM's contact mapping, with `extra` lines before its expression and `fields` in it. */
const crmMapping = ({ extra = '', fields = '' }: { extra?: string; fields?: string } = {}) => `source: crm
object: contact
recordId: id
updatedAt: updated_at
${extra}profile: |
  { "name": { "given": first_name, "family": last_name }, "emails": [email], "externalIds": { "crm": id }${fields} }
`;
const PHONES = ', "phones": [phone]';

const workspace = () =>
  writeWorkspace({
    'connectors/crm.yaml': 'type: webhook\nsecret: ${CRM_SECRET}\npriority: 20\n',
    'connectors/shop.yaml': 'type: webhook\nsecret: ${SHOP_SECRET}\n',
    'mappings/crm-contact.yaml': crmMapping(),
    'mappings/shop-customer.yaml': `source: shop
object: customer
recordId: customer_id
profile: |
  { "name": { "full": full_name }, "emails": [email_address], "phones": [mobile], "externalIds": { "shop": customer_id } }
`,
  });
const setCrmMapping = (dir: string, text: string) => writeFileSync(path.join(dir, 'mappings', 'crm-contact.yaml'), text);

const hubs: TestHub[] = [];
const receiver = await startReceiver();
afterAll(async () => {
  for (const t of hubs.reverse()) await t.stop().catch(() => {});
  await receiver.close();
});

/** A hub on `dir`, sharing the database of `previous` (stopped first), as a restart would. */
async function restart(dir: string, previous?: TestHub, workers = true): Promise<TestHub> {
  if (previous) await previous.hub.stop();
  const t = await startTestHub({ configDir: dir, workers, ...(previous ? { shareDatabase: previous.testDb } : {}) });
  hubs.push(t);
  return t;
}

const post = async (t: TestHub, source: string, record: Record<string, unknown>) =>
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
const profileOf = async (t: TestHub, email: string) =>
  (await t.json('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles[0] as Record<string, any>;
const mappingRebuilds = async (t: TestHub) =>
  ((await t.json('GET', '/rebuilds')).rebuilds as Record<string, any>[]).filter((r) => r.kind === 'mappings');
/** Waits for the `n`th mappings rebuild to be done, and for the pipeline behind it to settle. */
async function rebuilt(t: TestHub, n: number): Promise<Record<string, any>> {
  await waitFor(async () => {
    const all = await mappingRebuilds(t);
    return all.length === n && all[0]?.status === 'done';
  });
  await t.settle();
  return (await mappingRebuilds(t))[0] as Record<string, any>;
}
const phonesOf = async (t: TestHub, email: string) => ((await profileOf(t, email)).phones ?? []) as string[];
const rawIdsOf = async (t: TestHub, source: string) =>
  rowsOf<{ id: string | number }>(
    await t.testDb.database.db.execute(sql`select id from raw_records where source = ${source} order by id`),
  ).map((r) => Number(r.id));

describe('a changed mapping', () => {
  it('maps the stored records again after a restart: profiles gain the new field without the records being sent again, and destinations hear only those that changed', {
    timeout: 60_000,
  }, async () => {
    const dir = workspace();
    const first = await restart(dir);
    const created = await first.json('POST', '/destinations', { url: receiver.url('/mr-all') });
    receiver.trust('/mr-all', created.secret);
    const heard = () => receiver.received.filter((r) => r.path === '/mr-all');
    await post(first, 'crm', { id: 'mr-1', email: 'mr1@example.com', first_name: 'Ada', last_name: 'Byron', phone: '020 7946 0018' });
    await post(first, 'crm', { id: 'mr-2', email: 'mr2@example.com', first_name: 'Mary', last_name: 'Shelley' });
    await post(first, 'shop', { customer_id: 'mr-s1', email_address: 'mr3@example.com', full_name: 'Percy Shelley' });
    await first.settle();
    await waitFor(async () => heard().length === 3);
    expect(await mappingRebuilds(first)).toMatchObject([{ status: 'done', reason: 'nothing stored yet' }]);
    expect(await phonesOf(first, 'mr1@example.com')).toEqual([]);
    const received = await first.count('raw_records');

    setCrmMapping(dir, crmMapping({ fields: PHONES }));
    const second = await restart(dir, first);
    const rebuild = await rebuilt(second, 2);
    // The CRM's two records were made by the older version; the shop's mapping did not change.
    expect(rebuild).toMatchObject({ status: 'done', total: 2, processed: 2, progress: 1, error: null });
    expect(rebuild.reason).toContain('mapping');
    const changed = await profileOf(second, 'mr1@example.com');
    expect(changed.phones).toEqual(['+442079460018']);
    expect(await phonesOf(second, 'mr2@example.com')).toEqual([]);
    expect(await second.count('raw_records')).toBe(received);
    expect(
      heard()
        .slice(3)
        .map((r) => [r.json.event, r.json.profile.id]),
    ).toEqual([['profile.updated', changed.id]]);
    // Mapped by the new version too, though nothing it makes of the record changed.
    const hashOf = async (id: string) => (await second.json('GET', `/records/crm/${id}`)).records[0].mappingHash;
    expect(await hashOf('mr-2')).toBe(await hashOf('mr-1'));
  });

  it('leaves what a former version made of a record the new one does not apply to, quarantined as unmapped; and the records of a removed mapping as they are', {
    timeout: 60_000,
  }, async () => {
    const dir = workspace();
    const t = await restart(dir);
    await post(t, 'crm', { id: 'wn-1', kind: 'person', email: 'wn1@example.com', first_name: 'Ada', phone: '020 7946 0019' });
    await post(t, 'crm', { id: 'wn-2', kind: 'lead', email: 'wn2@example.com', first_name: 'Mary', phone: '020 7946 0020' });
    await post(t, 'shop', { customer_id: 'wn-s1', email_address: 'wn3@example.com', full_name: 'Percy Shelley' });
    await t.settle();

    setCrmMapping(dir, crmMapping({ extra: 'when: kind = "person"\n', fields: PHONES }));
    rmSync(path.join(dir, 'mappings', 'shop-customer.yaml'));
    t.hub.reloadWorkspace();
    // The shop's record has no mapping to be mapped by again: it is not counted.
    expect(await rebuilt(t, 2)).toMatchObject({ status: 'done', total: 2, processed: 2 });
    expect(await phonesOf(t, 'wn1@example.com')).toEqual(['+442079460019']);
    expect(await profileOf(t, 'wn2@example.com')).toMatchObject({ emails: ['wn2@example.com'], name: { given: 'Mary' } });
    expect(await phonesOf(t, 'wn2@example.com')).toEqual([]);
    const [lead] = await rawIdsOf(t, 'crm').then((ids) => ids.slice(1));
    const { items } = await t.json('GET', '/quarantine?source=crm');
    expect(items.map((i: Record<string, unknown>) => [i['rawId'], i['code']])).toEqual([[lead, 'unmapped']]);
    expect((await t.json('GET', '/quarantine?source=shop')).items).toEqual([]);
    expect(await profileOf(t, 'wn3@example.com')).toMatchObject({ name: { full: 'Percy Shelley' } });
  });

  it('takes a record it now says the vendor deleted out of its profile, and counts that record as mapped by it', {
    timeout: 60_000,
  }, async () => {
    const dir = workspace();
    const t = await restart(dir);
    await post(t, 'crm', { id: 'dl-1', email: 'dl@example.com', first_name: 'Ada', archived: false });
    await post(t, 'crm', { id: 'dl-2', email: 'dl@example.com', last_name: 'Byron', archived: true });
    await t.settle();
    const recordsOf = async () => ((await profileOf(t, 'dl@example.com')).sources as { recordId: string }[]).map((s) => s.recordId);
    expect(await recordsOf()).toEqual(['dl-1', 'dl-2']);

    setCrmMapping(dir, crmMapping({ extra: 'deleted: archived = true\n' }));
    t.hub.reloadWorkspace();
    expect(await rebuilt(t, 2)).toMatchObject({ total: 2, processed: 2 });
    expect(await recordsOf()).toEqual(['dl-1']);
    expect((await t.json('GET', '/records/crm/dl-2')).records[0].deletedAt).not.toBeNull();
    // Nothing is left that a former version made.
    const [again] = (await t.json('POST', '/rebuilds', { kinds: ['mappings'] })).rebuilds;
    await waitFor(async () => (await t.json('GET', `/rebuilds/${again.id}`)).status === 'done');
    expect(await t.json('GET', `/rebuilds/${again.id}`)).toMatchObject({ total: 0, processed: 0 });
  });

  it('is applied from the cursor by a rebuild whose process died, without walking again what it had done', {
    timeout: 60_000,
  }, async () => {
    const dir = workspace();
    const first = await restart(dir);
    for (const n of [1, 2, 3]) await post(first, 'crm', { id: `rs-${n}`, email: `rs${n}@example.com`, phone: `020 7946 010${n}` });
    await first.settle();

    // A process without workers takes the request; the one that ran it died after the first record.
    setCrmMapping(dir, crmMapping({ fields: PHONES }));
    const asked = await restart(dir, first, false);
    const [rebuild] = (await asked.json('POST', '/rebuilds', { kinds: ['mappings'], reason: 'resume test' })).rebuilds;
    const db = asked.testDb.database.db;
    await db.execute(sql`
      update rebuilds set status = 'running', total = 3, processed = 1,
        cursor = (select id from source_records where record_id = 'rs-1')
      where id = ${rebuild.id}::uuid`);

    const resumed = await restart(dir, asked);
    await waitFor(async () => (await resumed.json('GET', `/rebuilds/${rebuild.id}`)).status === 'done');
    await resumed.settle();
    expect(await resumed.json('GET', `/rebuilds/${rebuild.id}`)).toMatchObject({ total: 3, processed: 3, progress: 1 });
    expect(await phonesOf(resumed, 'rs1@example.com')).toEqual([]);
    expect(await phonesOf(resumed, 'rs2@example.com')).toEqual(['+442079460102']);
    expect(await phonesOf(resumed, 'rs3@example.com')).toEqual(['+442079460103']);
  });

  it('maps nothing again from a raw record that a newer arrival of its record has replaced', { timeout: 60_000 }, async () => {
    const t = await restart(workspace());
    // No updated_at: the later arrival is the newer version.
    await post(t, 'crm', { id: 'nw-1', email: 'nw@example.com', first_name: 'Ada' });
    await t.settle();
    await post(t, 'crm', { id: 'nw-1', email: 'nw@example.com', first_name: 'Augusta' });
    await t.settle();
    // A rebuild's batch that read the record before its second arrival.
    const [older] = await rawIdsOf(t, 'crm');
    await ingest(t.hub.ctx, [older as number], new Map(), [], { remap: true });
    await t.settle();
    expect((await profileOf(t, 'nw@example.com')).name).toMatchObject({ given: 'Augusta' });
    expect((await t.json('GET', '/records/crm/nw-1')).records[0].raw.id).not.toBe(older);
  });
});
