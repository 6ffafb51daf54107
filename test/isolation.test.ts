import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { RawStore } from '../src/intake/store.ts';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ env: { AURUM_MAX_RECORD_BYTES: '20000', AURUM_MAX_BODY: '200000', AURUM_MAX_JSON_DEPTH: '32' } });
});
afterAll(() => t.stop());

const contact = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  email: `${id}@example.com`,
  first_name: 'Given',
  last_name: `Family${id}`,
  ...extra,
});

const rows = async <T>(query: ReturnType<typeof sql>) => rowsOf<T>(await t.hub.ctx.database.db.execute(query));

async function quarantineOf(recordId: string) {
  return rows<{ code: string; status: string; message: string }>(sql`
    select q.code, q.status, q.message from quarantine q join raw_records r on r.id = q.raw_id
    where r.payload->>'id' = ${recordId} order by q.id`);
}

async function linked(recordIds: string[]): Promise<number> {
  const [row] = await rows<{ n: number | string }>(sql`
    select count(*) as n from source_records where source = 'crm' and record_id = any(${sql.param(recordIds)}::text[])`);
  return Number(row?.n);
}

describe('one bad record never sinks its batch', () => {
  it('links 30 concurrent records beside one whose email is too long to be a key, and flags that one', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `iso-${i}`);
    const long = contact('iso-long', { email: `${'x'.repeat(8000)}@example.com` });
    const responses = await Promise.all([
      ...ids.map((id) => t.postWebhook('crm', JSON.stringify(contact(id)))),
      t.postWebhook('crm', JSON.stringify(long)),
    ]);
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 202));
    await t.settle();

    expect(await linked([...ids, 'iso-long'])).toBe(31);
    expect(await quarantineOf('iso-long')).toEqual([expect.objectContaining({ code: 'key_too_long', status: 'flagged' })]);
    const keys = await rows<{ n: number | string }>(sql`select count(*) as n from record_keys where length(key) > 512`);
    expect(Number(keys[0]?.n)).toBe(0);
  });

  it('quarantines alone, as processing_failed without its values, a record the database refuses; the rest of its batch links', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `split-${i}`);
    // A time JavaScript holds and PostgreSQL does not: the insert fails for this record only.
    const bad = contact('split-bad', { updated_at: '-100000-01-01T00:00:00.000Z' });
    const responses = await Promise.all([
      ...ids.slice(0, 6).map((id) => t.postWebhook('crm', JSON.stringify(contact(id)))),
      t.postWebhook('crm', JSON.stringify(bad)),
      ...ids.slice(6).map((id) => t.postWebhook('crm', JSON.stringify(contact(id)))),
    ]);
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 202));
    await t.settle();

    expect(await linked(ids)).toBe(12);
    expect(await linked(['split-bad'])).toBe(0);
    const entries = await quarantineOf('split-bad');
    expect(entries).toEqual([expect.objectContaining({ code: 'processing_failed', status: 'open' })]);
    expect(entries[0]?.message).not.toContain('split-bad');
    expect(entries[0]?.message).not.toContain('100000');
    const failed = await rows<{ n: number | string }>(
      sql`select count(*) as n from pgboss.job where name = 'aurum-ingest' and state = 'failed'`,
    );
    expect(Number(failed[0]?.n)).toBe(0);
  });
});

describe('valid JSON that PostgreSQL cannot hold is still kept', () => {
  it.each([
    ['a \\u0000', 'nul', '"first_name": "Ann\\u0000e"'],
    ['a lone surrogate', 'surrogate', '"first_name": "Ann\\ud800e"'],
  ])('stores a body holding %s with U+FFFD in its place, keeps the exact bytes, links it and flags it', async (_, id, field) => {
    const body = `{"id": "chars-${id}", "email": "chars-${id}@example.com", ${field}, "last_name": "Chars"}`;
    const response = await t.postWebhook('crm', body);
    expect(response.status).toBe(202);
    await t.settle();

    const [raw] = await rows<{ first: string; original: string }>(sql`
      select payload->>'first_name' as first, convert_from(original_body, 'UTF8') as original
      from raw_records where payload->>'id' = ${`chars-${id}`}`);
    expect(raw).toEqual({ first: 'Ann\uFFFDe', original: body });
    expect(await linked([`chars-${id}`])).toBe(1);
    expect(await quarantineOf(`chars-${id}`)).toEqual([expect.objectContaining({ code: 'characters_replaced', status: 'flagged' })]);
  });

  it('stores an ordinary body without a copy of its bytes', async () => {
    expect((await t.postWebhook('crm', JSON.stringify(contact('plain')))).status).toBe(202);
    const [raw] = await rows<{ original: unknown }>(sql`select original_body as original from raw_records where payload->>'id' = 'plain'`);
    expect(raw?.original).toBeNull();
  });
});

describe('every bad body is refused alone, with a clear code', () => {
  const nested = (depth: number) => `{"id": "deep", "x": ${'['.repeat(depth)}${']'.repeat(depth)}}`;

  it('refuses JSON nested deeper than AURUM_MAX_JSON_DEPTH with 400 json_too_deep, while its neighbours are stored', async () => {
    const before = await t.count('raw_records');
    const [deep, ...good] = await Promise.all([
      t.postWebhook('crm', nested(4200)),
      ...['n1', 'n2', 'n3'].map((id) => t.postWebhook('crm', JSON.stringify(contact(id)))),
    ]);
    expect(deep?.status).toBe(400);
    expect(((await (deep as Response).json()) as { error: { code: string } }).error.code).toBe('json_too_deep');
    expect(good.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(await t.count('raw_records')).toBe(before + 3);
  });

  it('accepts nesting up to the limit', async () => {
    // The record object is one level, the array inside it the rest.
    expect((await t.postWebhook('crm', nested(31))).status).toBe(202);
    expect((await t.postWebhook('crm', nested(32))).status).toBe(400);
  });

  it('refuses a record over AURUM_MAX_RECORD_BYTES with 413 record_too_large, even inside an array under AURUM_MAX_BODY', async () => {
    const before = await t.count('raw_records');
    const body = JSON.stringify([contact('small'), contact('huge', { notes: 'y'.repeat(30_000) })]);
    const response = await t.postWebhook('crm', body);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('record_too_large');
    expect(await t.count('raw_records')).toBe(before);
  });
});

describe('group commit', () => {
  it("retries a shared transaction's members one by one when it fails, so one intake's fault is never another's", async () => {
    const store = new RawStore(t.hub.ctx);
    const intake = (records: unknown[]) => ({ source: 'crm', records, bodyHash: 'test' });
    // A value JSON cannot hold fails the whole shared insert; its neighbours must still commit.
    const results = await Promise.allSettled([
      store.store(intake([contact('gc-1')])),
      store.store(intake([{ id: 'gc-bad', n: 1n }])),
      store.store(intake([contact('gc-2')])),
      store.store(intake([contact('gc-3')])),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const [row] = await rows<{ n: number | string }>(sql`select count(*) as n from raw_records where payload->>'id' like 'gc-%'`);
    expect(Number(row?.n)).toBe(3);
  });
});
