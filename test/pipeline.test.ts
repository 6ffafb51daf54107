import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t.stop());

const crm = (r: Record<string, unknown>) => t.postWebhook('crm', JSON.stringify(r));
const shop = (r: Record<string, unknown>) => t.postWebhook('shop', JSON.stringify(r));
const byEmail = async (email: string) =>
  (await t.json<{ profiles: any[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles;

describe('records from separate silos', () => {
  it('merge into one golden record when they share an email, whatever its case and spacing', async () => {
    await crm({
      id: 'c1',
      email: 'Ada@Example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
      phone: '020 7946 0018',
      updated_at: '2026-01-01T00:00:00Z',
    });
    await shop({
      customer_id: 's1',
      email_address: ' ada@example.com ',
      full_name: 'A. Lovelace',
      birthday: '1815-12-10',
      modified: '2026-06-01T00:00:00Z',
    });
    await t.settle();
    const [profile, ...others] = await byEmail('ada@example.com');
    expect(others).toHaveLength(0);
    expect(profile.sources).toHaveLength(2);
    expect(profile.phones).toEqual(['+442079460018']);
    expect(profile.dateOfBirth).toBe('1815-12-10');
    // crm has the higher priority, so its name wins although shop's record is newer.
    expect(profile.name).toEqual({ given: 'Ada', family: 'Lovelace', full: 'Ada Lovelace' });
    expect(profile.externalIds).toEqual({ crm: 'c1', shop: 's1' });
  });

  it('are found by phone and by external id', async () => {
    const [byPhone] = (await t.json('GET', '/profiles?phone=%2B442079460018')).profiles;
    const [byExternal] = (await t.json('GET', '/profiles?externalId=shop:s1')).profiles;
    expect(byPhone.id).toBe(byExternal.id);
    expect(byPhone.emails).toEqual(['ada@example.com']);
  });

  it('keep each golden field’s lineage: source, record, observed time and mapping hash', async () => {
    const [profile] = await byEmail('ada@example.com');
    const { fields } = await t.json('GET', `/profiles/${profile.id}/lineage`);
    expect(fields.name).toMatchObject({
      source: 'crm',
      recordId: 'c1',
      mapping: expect.stringContaining('crm-contact.yaml'),
      mappingHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(fields.name.candidates.map((c: { source: string }) => c.source)).toEqual(['crm', 'shop']);
    expect(fields.dateOfBirth).toMatchObject({ source: 'shop', recordId: 's1', observedAt: expect.any(String) });
    expect(fields.emails[0].sources.map((s: { source: string }) => s.source).sort()).toEqual(['crm', 'shop']);
  });
});

describe('a record that bridges two profiles', () => {
  it('merges them: the oldest id survives and the retired id answers with the survivor', async () => {
    await crm({ id: 'c2', email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper' });
    await t.settle();
    await shop({ customer_id: 's2', email_address: 'g.hopper@navy.example', full_name: 'Grace Hopper' });
    await t.settle();
    const [older] = await byEmail('grace@example.com');
    const [newer] = await byEmail('g.hopper@navy.example');
    expect(older.id).not.toBe(newer.id);

    await shop({ customer_id: 's2', email_address: 'g.hopper@navy.example', full_name: 'Grace Hopper', crm_id: 'c2' });
    await t.settle();
    const [merged] = await byEmail('g.hopper@navy.example');
    expect(merged.id).toBe(older.id);
    expect(merged.emails.sort()).toEqual(['g.hopper@navy.example', 'grace@example.com']);
    const retired = await t.json('GET', `/profiles/${newer.id}`);
    expect(retired.id).toBe(older.id);
  });
});

describe('a placeholder identifier', () => {
  it('never links different people (blocked values): it is dropped from the record, and the drop recorded', async () => {
    await crm({ id: 'p1', email: 'test@example.com', first_name: 'Pat' });
    await crm({ id: 'p2', email: 'TEST@example.com', first_name: 'Lee' });
    await t.settle();
    expect(await byEmail('test@example.com')).toHaveLength(0);
    const [pat] = (await t.json('GET', '/profiles?externalId=crm:p1')).profiles;
    const [lee] = (await t.json('GET', '/profiles?externalId=crm:p2')).profiles;
    expect(pat.id).not.toBe(lee.id);
    expect(pat.emails ?? []).toEqual([]);
    expect(pat.name).toMatchObject({ given: 'Pat' });
    const { records } = await t.json('GET', '/records/crm/p1');
    expect(records[0].violations).toEqual([
      { field: 'emails', kind: 'blocked_value', message: expect.any(String), value: 'test@example.com' },
    ]);
  });
});

describe('an identical record arriving again', () => {
  it('changes nothing downstream', async () => {
    const record = { id: 'c3', email: 'alan@example.com', first_name: 'Alan', last_name: 'Turing' };
    await crm(record);
    await t.settle();
    const [before] = await byEmail('alan@example.com');
    const fanouts = await t.count("pgboss.job where name = 'aurum-fanout'");
    // Same content, other key order: still the same record.
    await t.postWebhook('crm', JSON.stringify({ last_name: 'Turing', first_name: 'Alan', email: 'alan@example.com', id: 'c3' }));
    await t.settle();
    const [after] = await byEmail('alan@example.com');
    expect(after.version).toBe(before.version);
    expect(after.updatedAt).toBe(before.updatedAt);
    expect(await t.count("pgboss.job where name = 'aurum-fanout'")).toBe(fanouts);
    expect(await t.count("raw_records where payload->>'id' = 'c3'")).toBe(2);
  });
});

describe('consent', () => {
  it('is an append-only ledger whose latest entry decides; at equal times a denial wins', async () => {
    await crm({ id: 'c4', email: 'mary@example.com', marketing_opt_in: true, updated_at: '2026-03-01T00:00:00Z' });
    await t.settle();
    await crm({ id: 'c4', email: 'mary@example.com', marketing_opt_in: false, updated_at: '2026-04-01T00:00:00Z' });
    await t.settle();
    const [profile] = await byEmail('mary@example.com');
    const consent = await t.json('GET', `/profiles/${profile.id}/consent`);
    expect(consent.ledger.map((e: { status: string }) => e.status)).toEqual(['granted', 'denied']);
    expect(consent.purposes).toEqual([expect.objectContaining({ purpose: 'marketing', status: 'denied', source: 'crm' })]);

    await shop({ customer_id: 's4', email_address: 'mary@example.com', crm_id: 'c4', modified: '2026-04-01T00:00:00Z' });
    await crm({ id: 'c4', email: 'mary@example.com', marketing_opt_in: true, updated_at: '2026-04-01T00:00:00Z' });
    await t.settle();
    const tie = await t.json('GET', `/profiles/${profile.id}/consent`);
    expect(tie.ledger).toHaveLength(3);
    expect(tie.purposes[0].status).toBe('denied');
  });
});

describe('quarantine', () => {
  it('keeps records whose mapping fails, with error and payload, and replays them after a fix', async () => {
    // The mapping quarantines a record with an invalid value whole, rather than drop the value.
    const file = path.join(t.configDir, 'mappings', 'shop-customer.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}onInvalid: quarantine\n`);
    expect((await t.call('POST', '/quarantine/replay', { source: 'shop' })).status).toBe(202);
    await shop({ customer_id: 'q1', email_address: 'not-an-email', full_name: 'Broken' });
    await shop({ customer_id: 'q2', email_address: 'ok@example.com', birthday: '12/10/1815' });
    await t.settle();
    const { items } = await t.json('GET', '/quarantine');
    expect(items.map((i: { code: string }) => i.code)).toEqual(['schema_invalid', 'schema_invalid']);
    const dob = items.find((i: { payload: { customer_id: string } }) => i.payload.customer_id === 'q2');
    expect(dob).toMatchObject({ source: 'shop', mapping: expect.stringContaining('shop-customer.yaml'), status: 'open' });
    expect(dob.message).toContain('dateOfBirth');

    // The ops engineer fixes the mapping: US-style birthdays become YYYY-MM-DD.
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        '"dateOfBirth": birthday',
        '"dateOfBirth": $contains(birthday, "/") ? $split(birthday, "/")[2] & "-" & $split(birthday, "/")[0] & "-" & $split(birthday, "/")[1] : birthday',
      ),
    );
    const replay = await t.call('POST', '/quarantine/replay', { source: 'shop' });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual({ replayed: 2 });
    await t.settle();

    const [fixed] = await byEmail('ok@example.com');
    expect(fixed.dateOfBirth).toBe('1815-12-10');
    const open = (await t.json('GET', '/quarantine')).items;
    expect(open.map((i: { payload: { customer_id: string } }) => i.payload.customer_id)).toEqual(['q1']);
    expect((await t.json('GET', '/quarantine?status=resolved')).items).toHaveLength(2);
  });

  it('refuses to replay with a broken workspace, naming the problem', async () => {
    const file = path.join(t.configDir, 'mappings', 'shop-customer.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('recordId: customer_id', 'recordId: customer_id +'));
    const response = await t.call('POST', '/quarantine/replay', {});
    expect(response.status).toBe(422);
    const body = (await response.json()) as any;
    expect(body.error.code).toBe('invalid_config');
    expect(body.error.details[0]).toMatchObject({ field: 'recordId', file: expect.stringContaining('shop-customer.yaml') });
    writeFileSync(file, good);
  });
});

describe('the API', () => {
  it('answers /health without a key', async () => {
    const response = await t.hub.app.request('/health');
    expect(await response.json()).toEqual({ status: 'ok', database: t.testDb.database.kind });
  });

  it('refuses profile reads without a valid key', async () => {
    const missing = await t.hub.app.request('/profiles?email=a@b.c');
    expect(missing.status).toBe(401);
    const wrong = await t.call('GET', '/profiles?email=a@b.c', undefined, { authorization: 'Bearer wrong-key-000000' });
    expect(((await wrong.json()) as any).error.code).toBe('unauthorized');
    const reader = await t.call('GET', '/profiles?email=a@b.c', undefined, { authorization: 'Bearer test-reader-key-0123' });
    expect(reader.status).toBe(200);
  });

  it('answers 404 for unknown profiles and 400 for a query without a key', async () => {
    expect((await t.call('GET', '/profiles/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await t.call('GET', '/profiles/not-a-uuid')).status).toBe(404);
    // A bare GET /profiles lists profiles (test/profile-listing.test.ts); a key left empty is still refused.
    expect((await t.call('GET', '/profiles?email=')).status).toBe(400);
  });
});
