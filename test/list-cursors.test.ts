/**
 * One pagination style: every list that pages takes its `next` back as `cursor`, and the older names
 * it documented (`before`, `after`) keep working with the same value.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let destination: string;
beforeAll(async () => {
  receiver = await startReceiver();
  // The invalid email quarantines its record whole: the quarantine has pages to walk.
  const dir = copyWorkspace({ onInvalid: 'quarantine' });
  writeFileSync(
    path.join(dir, 'consent.yaml'),
    'purposes:\n  - name: analytics\n    description: Product analytics\n    default: granted\n',
  );
  t = await startTestHub({ configDir: dir });
  const created = (await (await t.call('POST', '/destinations', { url: receiver.url('/hook') })).json()) as any;
  destination = created.id;
  receiver.trust('/hook', created.secret);
  for (const n of [1, 2, 3]) {
    // A valid person, and one the mapping quarantines (the email is not one).
    await t.postWebhook(
      'crm',
      JSON.stringify({ id: `ok-${n}`, email: `person${n}@example.com`, first_name: 'Pat', last_name: `Number${n}` }),
    );
    await t.postWebhook('crm', JSON.stringify({ id: `bad-${n}`, email: `person${n}(at)example`, first_name: 'Quin' }));
  }
  await t.settle();
  // Reads that leave audit entries.
  for (const n of [1, 2, 3]) await t.call('GET', `/profiles?email=person${n}@example.com`);
});
afterAll(async () => {
  await t.stop();
  await receiver.close();
});

const get = async (route: string) => {
  const response = await t.call('GET', route);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, any>;
};

/** Every item of `route` in one page. */
const whole = async (route: string, items: string) =>
  (await get(`${route}${route.includes('?') ? '&' : '?'}limit=100`))[items].map((i: { id: unknown }) => i.id);

/** Pages `route` one item at a time, passing `next` back under `name`; the ids of every page. */
const walk = async (route: string, items: string, name: string) => {
  const ids: unknown[] = [];
  let next: unknown = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await get(`${route}${route.includes('?') ? '&' : '?'}limit=1${next === null ? '' : `&${name}=${next}`}`);
    ids.push(...page[items].map((i: { id?: unknown; profileId?: unknown }) => i.id ?? i.profileId));
    next = page['next'];
    if (next === null) break;
  }
  expect(next).toBeNull();
  return ids;
};

describe('cursor, and the older names beside it', () => {
  it('pages the quarantine with cursor as with before', async () => {
    const byCursor = await walk('/quarantine?source=crm', 'items', 'cursor');
    expect(byCursor).toHaveLength(3);
    expect(new Set(byCursor).size).toBe(3);
    expect(await walk('/quarantine?source=crm', 'items', 'before')).toEqual(byCursor);
  });

  it('pages the audit log with cursor as with before', async () => {
    const byCursor = await walk('/audit?action=profile.read', 'entries', 'cursor');
    expect(byCursor.length).toBeGreaterThanOrEqual(3);
    expect(new Set(byCursor).size).toBe(byCursor.length);
    expect(await walk('/audit?action=profile.read', 'entries', 'before')).toEqual(byCursor);
  });

  it('pages a consent query with cursor as with after', async () => {
    const byCursor = await walk('/consent?purpose=analytics&status=granted', 'profiles', 'cursor');
    expect(byCursor).toHaveLength(3);
    expect(new Set(byCursor).size).toBe(3);
    expect(await walk('/consent?purpose=analytics&status=granted', 'profiles', 'after')).toEqual(byCursor);
  });

  it('answers 400 for a cursor a list did not give', async () => {
    for (const route of ['/quarantine?cursor=abc', '/audit?cursor=abc', '/consent?purpose=analytics&status=granted&cursor=abc']) {
      const response = await t.call('GET', route);
      expect(response.status).toBe(400);
      expect(((await response.json()) as any).error.code).toBe('invalid_request');
    }
  });
});

describe('lists that had no cursor', () => {
  it('pages a destination’s deliveries and dead letters with cursor', async () => {
    await t.settle();
    const route = `/destinations/${destination}/deliveries`;
    const paged = await walk(route, 'deliveries', 'cursor');
    expect(paged.length).toBeGreaterThanOrEqual(3);
    expect(new Set(paged).size).toBe(paged.length);
    expect(paged).toEqual(await whole(route, 'deliveries'));
    const deadLetters = await get(`/destinations/${destination}/dead-letters?limit=1`);
    expect(deadLetters).toMatchObject({ deadLetters: [], next: null });
  });

  it('pages imports with cursor', async () => {
    for (const n of [1, 2, 3]) {
      const body = `${JSON.stringify({ id: `imp-${n}`, email: `imported${n}@example.com`, first_name: 'Ima' })}\n`;
      const response = await t.call('POST', '/sources/crm/import', body, { 'content-type': 'application/x-ndjson' });
      expect(response.status).toBe(202);
    }
    const paged = await walk('/imports', 'imports', 'cursor');
    expect(paged).toHaveLength(3);
    expect(new Set(paged).size).toBe(3);
    expect(paged).toEqual(await whole('/imports', 'imports'));
  });

  it('pages erasures and an erasure’s suppressions with cursor', async () => {
    for (const n of [1, 2]) {
      const [profile] = (await get(`/profiles?email=person${n}@example.com`))['profiles'];
      const response = await t.as('compliance', 'POST', `/profiles/${profile.id}/erase`, { reason: 'asked to be forgotten' });
      expect(response.status).toBe(200);
    }
    const paged = await walk('/erasures', 'erasures', 'cursor');
    expect(paged).toHaveLength(2);
    expect(new Set(paged).size).toBe(2);
    expect(paged).toEqual(await whole('/erasures', 'erasures'));

    // The person arrives again from two records: both are suppressed.
    await t.postWebhook(
      'crm',
      JSON.stringify({ id: 'ok-1', email: 'person1@example.com', first_name: 'Pat', updated_at: '2030-01-01T00:00:00Z' }),
    );
    await t.postWebhook('shop', JSON.stringify({ customer_id: 'again-1', email_address: 'person1@example.com', full_name: 'Pat' }));
    await t.settle();
    const erasureOfPerson1 = paged.at(-1);
    const route = `/erasures/${erasureOfPerson1}/suppressions`;
    const suppressions = await walk(route, 'suppressions', 'cursor');
    expect(suppressions).toHaveLength(2);
    expect(suppressions).toEqual(await whole(route, 'suppressions'));
  });

  it('pages a source’s sync runs with cursor', async () => {
    // Finished runs as a pull leaves them (the fixture's sources take webhooks, so none pull).
    for (const n of [1, 2, 3]) {
      await t.testDb.database.db.execute(
        sql`insert into sync_runs (source, trigger, status, pages) values ('crm', 'api', 'succeeded', ${n})`,
      );
    }
    const paged = await walk('/sources/crm/runs', 'runs', 'cursor');
    expect(paged).toHaveLength(3);
    expect(new Set(paged).size).toBe(3);
    expect(paged).toEqual(await whole('/sources/crm/runs', 'runs'));
  });

  it('answers 400 for a cursor these lists did not give', async () => {
    for (const route of [
      '/imports?cursor=abc',
      '/sources/crm/runs?cursor=abc',
      `/destinations/${destination}/deliveries?cursor=abc`,
      '/erasures?cursor=WzEsMl0',
    ]) {
      const response = await t.call('GET', route);
      expect(response.status, route).toBe(400);
    }
  });
});
