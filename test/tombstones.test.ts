/**
 * `suppressUnmappedErased`: a later record of an erased person whose mapping failed is recognised
 * by the emails and phones its payload holds, emptied and logged, through the real database.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { payloadIdentifierKeys, suppressUnmappedErased } from '../src/resolution/tombstones.ts';
import { copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  // A record with an invalid value fails mapping whole (`onInvalid: quarantine`), as the tests of failed records need.
  t = await startTestHub({ configDir: copyWorkspace({ onInvalid: 'quarantine' }) });
});
afterAll(async () => {
  await t?.stop();
});

const send = async (source: 'crm' | 'shop', record: object) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const rawOf = async (marker: string) => {
  const [row] = rowsOf<{ id: string | number; source: string; payload: unknown; erased_at: unknown }>(
    await t.testDb.database.db.execute(
      sql`select id, source, payload, erased_at from raw_records where payload::text like ${`%${marker}%`} order by id desc limit 1`,
    ),
  );
  return row ? { rawId: Number(row.id), source: row.source, payload: row.payload } : undefined;
};
const suppress = (raws: { rawId: number; source: string; payload: unknown }[]) =>
  t.testDb.database.db.transaction((tx) => suppressUnmappedErased(tx, raws, { defaultRegion: 'GB' }));

describe('payloadIdentifierKeys', () => {
  it('finds emails and phones in any field, normalised as keys are, and nothing else', () => {
    const keys = payloadIdentifierKeys(
      {
        contact: { primary: 'Ines <Ines.T@Example.ORG>', numbers: ['07400 123456', 447400654321] },
        note: 'call back tomorrow',
        born: '1987-04-12',
        amount: 1200,
      },
      { defaultRegion: 'GB' },
    );
    expect(keys.sort()).toEqual(['email:ines.t@example.org', 'phone:+447400123456', 'phone:+447400654321']);
  });

  it('walks a record of half a million values without overflowing the stack', () => {
    const payload = { ids: Array.from({ length: 500_000 }, () => 1), contact: 'mailto:last@example.org' };
    expect(payloadIdentifierKeys(payload)).toEqual(['email:last@example.org']);
  });
});

describe('suppressUnmappedErased', () => {
  let erasureId: string;
  beforeAll(async () => {
    await send('crm', { id: 'tb-1', email: 'ines.t@example.org', first_name: 'Ines', last_name: 'Tombsworth', phone: '07400 123456' });
    const found = await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?email=ines.t@example.org');
    const erased = await t.json<{ erasureId: string }>('POST', `/profiles/${found.profiles[0]?.id}/erase`, { reason: 'test' });
    erasureId = erased.erasureId;
  });

  it('ingest empties a failed record holding an erased phone instead of quarantining it, and logs it', async () => {
    // The email is not a valid one: the record fails mapping, but its phone is the erased person's.
    await send('shop', { customer_id: 'tb-shop-7', full_name: 'Ines Tombsworth', email_address: 'ines@', mobile: '+44 7400 123456' });
    await send('crm', { id: 'tb-other', email: 'not-an-email', first_name: 'Olaf', phone: '07400 654321' });

    expect(await rawOf('Tombsworth')).toBeUndefined();
    const listed = await t.json<{ total: number; suppressions: { rawId: number }[] }>('GET', `/erasures/${erasureId}/suppressions`);
    expect(listed).toMatchObject({ total: 1, suppressions: [{ source: 'shop', matched: 'phone' }] });
    const inesRawId = listed.suppressions[0]?.rawId as number;
    expect(await t.count(`raw_records where id = ${inesRawId} and payload = '{}'::jsonb and erased_at is not null`)).toBe(1);
    expect(await t.count(`quarantine where raw_id = ${inesRawId} and status = 'open'`)).toBe(0);
    // Someone else's failed record is quarantined as usual.
    const olaf = (await rawOf('tb-other')) as NonNullable<Awaited<ReturnType<typeof rawOf>>>;
    expect(await t.count(`quarantine where raw_id = ${olaf.rawId} and status = 'open'`)).toBe(1);
    // Called again on what the pipeline left, it finds nothing more to suppress.
    expect((await suppress([olaf])).size).toBe(0);
  });

  it('recognises an erased email however it is written, and returns nothing when no tombstone matches', async () => {
    await send('crm', { id: 'tb-9', email: 'INES.T@EXAMPLE.ORG', first_name: 'Ines', phone: 'not a phone' });
    expect(await rawOf('tb-9')).toBeUndefined();
    const listed = await t.json<{ suppressions: Record<string, unknown>[] }>('GET', `/erasures/${erasureId}/suppressions`);
    expect(listed.suppressions.some((s) => s['source'] === 'crm' && s['matched'] === 'email')).toBe(true);

    expect((await suppress([{ rawId: 1, source: 'crm', payload: { email: 'someone.else@example.org' } }])).size).toBe(0);
    expect((await suppress([])).size).toBe(0);
  });
});
