/**
 * Erasure through the API: the person's data is gone from every table and column, destinations
 * hear `profile.erased`, and a later record of the person is suppressed rather than re-create them.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { copyWorkspace, startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  // A record with an invalid value fails mapping whole (`onInvalid: quarantine`): its erasure is tested too.
  t = await startTestHub({ configDir: copyWorkspace({ onInvalid: 'quarantine' }) });
  receiver = await startReceiver();
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

const send = async (source: 'crm' | 'shop', record: object) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const idOf = async (email: string) =>
  (await t.json<{ profiles: { id: string }[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles[0]?.id;

/** Every value the person's records held, in the forms the hub may have stored them. */
const ERASED = [
  'Zephyrine',
  'Quillfeather',
  'zephyrine.q@example.org',
  'ZEPHYRINE.Q@EXAMPLE.ORG',
  'zq.alt@example.org',
  '+447911555123',
  '07911 555123',
  'zq-1',
  'zq-2',
  'sq-1',
  '1987-04-12',
  // A quarantined shop record: an invalid email beside the person's name and phone.
  'zephyrine(at)example',
  'Quillfeather Ltd',
  'zq(at)alt',
];

/** Rows of every table, in every schema the hub writes (its own and pg-boss's), whose text holds `value`. */
async function scan(value: string): Promise<string[]> {
  const db = t.testDb.database.db;
  const tables = rowsOf<{ table_schema: string; table_name: string }>(
    await db.execute(sql`
      select table_schema, table_name from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`),
  );
  expect(tables.map((r) => r.table_name)).toEqual(
    expect.arrayContaining(['raw_records', 'source_records', 'profiles', 'golden_records', 'deliveries', 'job']),
  );
  const found: string[] = [];
  for (const { table_schema, table_name } of tables) {
    const [row] = rowsOf<{ n: string | number }>(
      await db.execute(
        sql.raw(`select count(*) as n from "${table_schema}"."${table_name}" t where t::text ilike '%${value.replace(/'/g, "''")}%'`),
      ),
    );
    if (Number(row?.n) > 0) found.push(`${table_schema}.${table_name}`);
  }
  return found;
}

describe('POST /profiles/:id/erase', () => {
  let id: string;
  let other: string;
  let erasureId: string;
  let retiredIds: string[];

  it('erases the person from every table and column, keeps others, and tells every destination', async () => {
    const everything = await t.json<{ id: string; secret: string }>('POST', '/destinations', { url: receiver.url('/all') });
    receiver.trust('/all', everything.secret);
    const marketing = await t.json<{ id: string; secret: string }>('POST', '/destinations', {
      url: receiver.url('/marketing'),
      purposes: ['marketing'],
    });
    receiver.trust('/marketing', marketing.secret);

    // The first version is quarantined (the number is not a valid one): it must go too.
    await send('crm', {
      id: 'zq-1',
      email: 'ZEPHYRINE.Q@EXAMPLE.ORG',
      first_name: 'Zephyrine',
      last_name: 'Quilfeather',
      phone: '07911 555123',
      updated_at: '2024-01-01T00:00:00Z',
    });
    // A second version of the same record: both raw versions must go.
    await send('crm', {
      id: 'zq-1',
      email: 'zephyrine.q@example.org',
      first_name: 'Zephyrine',
      last_name: 'Quillfeather',
      phone: '07400 123456',
      marketing_opt_in: true,
      updated_at: '2024-02-01T00:00:00Z',
    });
    await send('shop', {
      customer_id: 'sq-1',
      full_name: 'Zephyrine Quillfeather',
      email_address: 'zephyrine.q@example.org',
      birthday: '1987-04-12',
    });
    await send('crm', { id: 'zq-2', email: 'zq.alt@example.org', first_name: 'Zephyrine', last_name: 'Quillfeather' });
    // It fails mapping, so it is no member of the profile: only its phone says whose it is.
    await send('shop', {
      customer_id: 'sq-2',
      full_name: 'Zephyrine Quillfeather',
      email_address: 'zephyrine(at)example',
      mobile: '07400 123456',
      company: 'Quillfeather Ltd',
    });
    expect(
      await t.count(`quarantine where status = 'open' and raw_id in (select id from raw_records where payload->>'customer_id' = 'sq-2')`),
    ).toBe(1);
    // A later version of zq-2 that fails mapping: only its record id says whose it is.
    await send('crm', { id: 'zq-2', email: 'zq(at)alt', first_name: 'Zephyrine', last_name: 'Quillfeather' });
    await send('crm', { id: 'ot-1', email: 'otto.other@example.org', first_name: 'Otto', last_name: 'Otherson' });
    id = (await idOf('zephyrine.q@example.org')) as string;
    const alt = (await idOf('zq.alt@example.org')) as string;
    other = (await idOf('otto.other@example.org')) as string;
    expect(new Set([id, alt, other]).size).toBe(3);
    // Someone decided the alternative address is the same person: the erasure covers the retired id too.
    const merged = await t.json<{ profile: { id: string } }>('POST', '/profiles/merge', { ids: [id, alt], reason: 'same person' });
    id = merged.profile.id;
    await t.settle();
    await waitFor(async () => receiver.received.some((r) => r.path === '/marketing'));
    for (const value of ERASED.slice(0, 3)) expect(await scan(value)).not.toEqual([]);

    const refused = await t.as('compliance', 'POST', `/profiles/${id}/erase`, {});
    expect(refused.status).toBe(400);
    expect((await t.as('ops', 'POST', `/profiles/${id}/erase`, { reason: 'x' })).status).toBe(403);

    // No body at all: the reason comes in its header.
    const noReason = await t.as('compliance', 'POST', `/profiles/${id}/erase`);
    expect(noReason.status).toBe(400);
    expect(await noReason.json()).toMatchObject({ error: { code: 'invalid_request' } });
    const response = await t.as('compliance', 'POST', `/profiles/${id}/erase`, undefined, { 'x-aurum-reason': 'Art. 17 request #88' });
    expect(response.status).toBe(200);
    const result = (await response.json()) as Record<string, any>;
    // Six raw records: both versions of zq-1 and of zq-2, sq-1, and the quarantined sq-2.
    expect(result).toMatchObject({ id, records: 3, rawRecords: 6, retiredIds: [id === alt ? expect.any(String) : alt] });
    erasureId = result['erasureId'];
    retiredIds = result['retiredIds'];
    await t.settle();

    for (const value of ERASED) expect(await scan(value), value).toEqual([]);
    // The scan finds what is still there.
    expect(await scan('Otherson')).toContain('public.raw_records');

    for (const path of ['/all', '/marketing']) {
      // The profile's own erasure (each retired id hears its own too: see the next test).
      const own = (r: (typeof receiver.received)[number]) => r.path === path && r.json.event === 'profile.erased' && r.json.id === id;
      await waitFor(async () => receiver.received.some(own));
      const erased = receiver.received.find(own);
      expect(erased?.json).toEqual({ event: 'profile.erased', id });
      expect(erased?.signatureValid).toBe(true);
    }

    expect((await t.as('reader', 'GET', `/profiles/${id}`)).status).toBe(404);
    expect((await t.as('reader', 'GET', `/profiles/${alt}`)).status).toBe(404);
    expect((await t.as('compliance', 'GET', `/profiles/${id}/export`)).status).toBe(404);
    expect(await idOf('zephyrine.q@example.org')).toBeUndefined();
    expect((await t.as('reader', 'GET', `/profiles/${other}`)).status).toBe(200);
    expect((await t.as('compliance', 'POST', `/profiles/${id}/erase`, { reason: 'again' })).status).toBe(404);

    const audit = await t.json<{ entries: Record<string, unknown>[] }>('GET', `/audit?profile=${id}&action=profile.erased`);
    expect(audit.entries).toEqual([
      expect.objectContaining({
        actor: 'env:compliance',
        reason: 'Art. 17 request #88',
        details: expect.objectContaining({ erasure: erasureId, records: 3 }),
      }),
    ]);
  });

  it('tells every destination of the erasure of each id merged into the profile too', async () => {
    expect(retiredIds).toHaveLength(1);
    for (const path of ['/all', '/marketing']) {
      for (const retired of retiredIds) {
        await waitFor(async () =>
          receiver.received.some((r) => r.path === path && r.json.event === 'profile.erased' && r.json.id === retired),
        );
      }
      const erased = receiver.received.filter((r) => r.path === path && r.json.event === 'profile.erased');
      expect(erased.map((r) => r.json).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [id, ...retiredIds].sort().map((erasedId) => ({ event: 'profile.erased', id: erasedId })),
      );
      expect(erased.every((r) => r.signatureValid)).toBe(true);
    }
  });

  it('vacuums the tables it emptied once the erasure has committed', async () => {
    const vacuumed = async () =>
      rowsOf<{ relname: string }>(
        await t.testDb.database.db.execute(sql`
          select relname from pg_stat_user_tables
          where relname in ('raw_records', 'quarantine', 'source_records', 'profiles', 'golden_records', 'deliveries')
            and last_vacuum is not null`),
      ).map((r) => r.relname);
    await waitFor(async () => (await vacuumed()).length === 6);
    expect((await vacuumed()).sort()).toEqual(['deliveries', 'golden_records', 'profiles', 'quarantine', 'raw_records', 'source_records']);
  });

  it('suppresses a later record of the person, by record or by identifier, and lists it', async () => {
    await send('crm', { id: 'zq-1', email: 'zephyrine.q@example.org', first_name: 'Zephyrine', updated_at: '2024-06-01T00:00:00Z' });
    await send('shop', { customer_id: 'sq-9', full_name: 'Z. Quillfeather', email_address: 'zephyrine.q@example.org' });
    await send('crm', { id: 'ot-2', email: 'otto.other@example.org', first_name: 'Otto', last_name: 'Otherson' });
    expect(await idOf('zephyrine.q@example.org')).toBeUndefined();
    expect(await idOf('otto.other@example.org')).toBe(other);
    for (const value of ERASED) expect(await scan(value), value).toEqual([]);

    const { erasures } = await t.json<{ erasures: Record<string, unknown>[] }>('GET', '/erasures');
    expect(erasures).toEqual([
      expect.objectContaining({ id: erasureId, profileId: id, suppressed: 2, records: 3, actor: 'env:compliance' }),
    ]);
    const listed = await t.json<{ total: number; suppressions: Record<string, unknown>[] }>('GET', `/erasures/${erasureId}/suppressions`);
    expect(listed.total).toBe(2);
    expect(listed.suppressions.map((s) => [s['source'], s['matched']])).toEqual([
      ['shop', 'email'],
      ['crm', 'rec'],
    ]);
    expect((await t.as('reader', 'GET', '/erasures')).status).toBe(403);
    expect((await t.as('compliance', 'GET', '/erasures/00000000-0000-4000-8000-000000000000/suppressions')).status).toBe(404);
  });

  it('suppresses a later record of the person that fails mapping, recognised by an identifier in its payload', async () => {
    // The email is invalid, so nothing maps: its phone is the erased person's.
    await send('shop', {
      customer_id: 'sq-3',
      full_name: 'Zephyrine Quillfeather',
      email_address: 'zephyrine(at)example',
      mobile: '+44 7400 123456',
      company: 'Quillfeather Ltd',
    });
    for (const value of [...ERASED, 'sq-3']) expect(await scan(value), value).toEqual([]);
    const listed = await t.json<{ total: number; suppressions: Record<string, unknown>[] }>('GET', `/erasures/${erasureId}/suppressions`);
    expect(listed.total).toBe(3);
    expect(listed.suppressions[0]).toMatchObject({ source: 'shop', matched: 'phone' });
    // Suppressed, not quarantined: nothing of it is left for ops to read.
    expect(await t.count(`quarantine where status = 'open'`)).toBe(0);
  });
});

describe('a record of the person that mapped but was never linked', () => {
  it('is emptied by the erasure too (here: quarantined as too_many_identifiers, one of its emails the person’s)', async () => {
    await send('crm', { id: 'ul-1', email: 'ulla.unlinked@example.org', first_name: 'Ulla', last_name: 'Unlinkedsdottir' });
    const emails = ['ulla.unlinked@example.org', ...Array.from({ length: 25 }, (_, i) => `ul.list.${i}@example.org`)];
    await send('crm', { id: 'ul-list', email: emails, first_name: 'Ulla', last_name: 'Unlinkedsdottir' });
    const held = async () =>
      Number(
        rowsOf<{ n: string | number }>(
          await t.testDb.database.db.execute(sql`select count(*) as n from raw_records where payload::text like '%Unlinkedsdottir%'`),
        )[0]?.n,
      );
    expect(await held()).toBe(2);
    expect(await t.count("quarantine where code = 'too_many_identifiers' and status = 'open'")).toBeGreaterThan(0);

    const id = await idOf('ulla.unlinked@example.org');
    expect((await t.call('POST', `/profiles/${id}/erase`, { reason: 'test' })).status).toBe(200);
    expect(await held()).toBe(0);
  });
});
