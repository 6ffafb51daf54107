/**
 * `GET /quarantine` hands raw payloads (personal data) to ops: every read is audited with the raw
 * ids only, and a page stops at MAX_PAGE_BYTES however large the payloads, with a cursor to go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_BYTES } from '../src/http/page-bytes.ts';
import { copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  // Records with an invalid email are quarantined whole (`onInvalid: quarantine`), payload and all.
  t = await startTestHub({ configDir: copyWorkspace({ onInvalid: 'quarantine' }) });
});
afterAll(async () => {
  await t?.stop();
});

interface Page {
  items: { id: number; rawId: number; payload: Record<string, unknown> }[];
  next: number | null;
  truncated: boolean;
}
const read = async (query: string, headers: Record<string, string> = {}) => {
  const response = await t.as('ops', 'GET', `/quarantine${query}`, undefined, headers);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { page: JSON.parse(text) as Page, bytes: Buffer.byteLength(text) };
};
const audits = async () => (await t.json<{ entries: Record<string, any>[] }>('GET', '/audit?action=quarantine.read')).entries;

describe('GET /quarantine', () => {
  it('audits each read of quarantined payloads: who, why, and which raw records, never their values', async () => {
    // The email is invalid: the record is quarantined with the person's name and phone in it.
    const record = { id: 'qr-1', email: 'quentin(at)example', first_name: 'Quentin', last_name: 'Readwell', phone: '07400 123456' };
    expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    await t.settle();
    const { page } = await read('', { 'x-aurum-reason': 'fixing the crm mapping' });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]?.payload).toMatchObject({ last_name: 'Readwell' });
    expect(page).toMatchObject({ next: null, truncated: false });

    const [entry, ...others] = await audits();
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      actor: 'env:ops',
      action: 'quarantine.read',
      reason: 'fixing the crm mapping',
      profileId: null,
      details: { rawIds: [page.items[0]?.rawId] },
    });
    expect(JSON.stringify(entry)).not.toMatch(/Readwell|Quentin|07400/);

    // A read that returns nothing reveals nothing and is not logged.
    await read('?source=shop');
    expect(await audits()).toHaveLength(1);
  });

  it('stops a page of huge payloads at the byte cap and continues it with next', async () => {
    const filler = 'x'.repeat(900_000);
    const count = Math.ceil(MAX_PAGE_BYTES / 900_000) + 2;
    for (let i = 0; i < count; i++) {
      const record = { id: `qb-${i}`, email: 'not-an-email', first_name: 'Big', notes: filler };
      expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
    }
    await t.settle();

    const seen: number[] = [];
    let query = '?limit=1000&source=crm';
    let pages = 0;
    for (;;) {
      const { page, bytes } = await read(query);
      pages++;
      expect(bytes).toBeLessThanOrEqual(MAX_PAGE_BYTES);
      seen.push(...page.items.map((i) => i.id));
      if (page.next === null) {
        expect(page.truncated).toBe(false);
        break;
      }
      expect(page.truncated).toBe(true);
      query = `?limit=1000&source=crm&before=${page.next}`;
    }
    expect(pages).toBeGreaterThan(1);
    // Every entry once, newest first, none skipped by the cut.
    expect(seen).toHaveLength(count + 1);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('pages by count with next, and refuses a bad cursor', async () => {
    const first = await read('?limit=2&source=crm');
    expect(first.page.items).toHaveLength(2);
    expect(first.page).toMatchObject({ next: first.page.items[1]?.id, truncated: false });
    const second = await read(`?limit=2&source=crm&before=${first.page.next}`);
    expect(second.page.items[0]?.id).toBeLessThan(first.page.next as number);
    expect((await t.as('ops', 'GET', '/quarantine?before=abc')).status).toBe(400);
  });
});
