/**
 * One pagination style: every list that pages takes its `next` back as `cursor`, and the older names
 * it documented (`before`, `after`) keep working with the same value.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  const dir = copyWorkspace();
  writeFileSync(
    path.join(dir, 'consent.yaml'),
    'purposes:\n  - name: analytics\n    description: Product analytics\n    default: granted\n',
  );
  t = await startTestHub({ configDir: dir });
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
afterAll(() => t.stop());

const get = async (route: string) => {
  const response = await t.call('GET', route);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, any>;
};

/** Pages `route` one item at a time, passing `next` back under `name`; the ids of every page. */
const walk = async (route: string, items: string, name: string) => {
  const ids: unknown[] = [];
  let next: unknown = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await get(`${route}&limit=1${next === null ? '' : `&${name}=${next}`}`);
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
