import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
/** Profile ids by crm record id, in the order they were created. */
const ids: Record<string, string> = {};
const people = [
  { id: 'p1', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', phone: '020 7946 0018' },
  { id: 'p2', email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper', phone: '020 7946 0019' },
  { id: 'p3', email: 'alan@example.com', first_name: 'Alan', last_name: 'Turing' },
  { id: 'p4', email: 'katherine@example.com', first_name: 'Katherine', last_name: 'Johnson' },
  { id: 'p5', email: 'edsger@example.com', first_name: 'Edsger', last_name: 'Dijkstra' },
];

beforeAll(async () => {
  t = await startTestHub();
  // One at a time, so creation order (newest first is its reverse) is known.
  for (const person of people) {
    await t.postWebhook('crm', JSON.stringify({ ...person, updated_at: '2026-01-01T00:00:00Z' }));
    await t.settle();
    const [profile] = (await t.json('GET', `/profiles?email=${encodeURIComponent(person.email)}`)).profiles;
    ids[person.id] = profile.id;
  }
});
afterAll(() => t.stop());

const list = async (query: string) => {
  const response = await t.call('GET', `/profiles?${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { profiles: any[]; next: string | null; truncated: boolean };
};
const found = async (q: string) => (await list(`q=${encodeURIComponent(q)}`)).profiles.map((p) => p.id);

describe('GET /profiles without a query', () => {
  it('lists live profiles newest first', async () => {
    const page = await list('');
    expect(page.profiles.map((p) => p.id)).toEqual(people.map((p) => ids[p.id]).reverse());
    expect(page.next).toBeNull();
  });

  it('pages with cursor until next is null, with no duplicates and no gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.profiles.map((p) => p.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(cursor).toBeNull();
    expect(pages).toBe(3);
    expect(seen).toEqual(people.map((p) => ids[p.id]).reverse());
  });

  it('answers 400 for a cursor it did not give', async () => {
    const response = await t.call('GET', '/profiles?cursor=not-a-cursor');
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('invalid_request');
  });
});

describe('GET /profiles?q=', () => {
  it('finds a profile by the prefix of a word of its name, in any case', async () => {
    expect(await found('LOVE')).toEqual([ids['p1']]);
    expect(await found('ada lov')).toEqual([ids['p1']]);
    expect(await found('gra')).toEqual([ids['p2']]);
  });

  it('finds a profile by a misspelt name', async () => {
    expect(await found('lovelase')).toEqual([ids['p1']]);
    expect(await found('dijkstre')).toEqual([ids['p5']]);
  });

  it('finds nobody for a name that is nobody’s', async () => {
    const page = await list('q=zzyzx');
    expect(page.profiles).toEqual([]);
    expect(page.next).toBeNull();
  });

  it('finds a profile by email, normalised', async () => {
    expect(await found(' Grace@Example.COM ')).toEqual([ids['p2']]);
  });

  it('finds a profile by phone, normalised like the identifier keys', async () => {
    expect(await found('020 7946 0019')).toEqual([ids['p2']]);
    expect(await found('+442079460018')).toEqual([ids['p1']]);
  });

  it('finds a profile by external id', async () => {
    expect(await found('crm:p3')).toEqual([ids['p3']]);
  });

  it('pages a search with cursor without duplicates or gaps', async () => {
    // "a" starts a word of Ada, Alan: key matches none, so both come by name, newest first.
    const first = await list('q=a&limit=1');
    expect(first.profiles.map((p) => p.id)).toEqual([ids['p3']]);
    const second = await list(`q=a&limit=1&cursor=${encodeURIComponent(first.next as string)}`);
    expect(second.profiles.map((p) => p.id)).toEqual([ids['p1']]);
    expect(second.next).toBeNull();
  });

  it('shows a reader no consent or sources fields', async () => {
    const asReader = await t.as('reader', 'GET', '/profiles?q=lovelace');
    expect(asReader.status).toBe(200);
    const [profile] = ((await asReader.json()) as any).profiles;
    expect(profile.id).toBe(ids['p1']);
    expect(profile).not.toHaveProperty('consent');
    expect(profile).not.toHaveProperty('sources');
    const [asAdmin] = (await list('q=lovelace')).profiles;
    expect(asAdmin.sources).toHaveLength(1);
  });
});

describe('GET /profiles by email, phone or externalId', () => {
  it('keeps paging with after, and takes cursor as its other name', async () => {
    const both = `email=ada@example.com&phone=${encodeURIComponent('+442079460019')}&limit=1`;
    const first = await list(both);
    expect(first.profiles.map((p) => p.id)).toEqual([ids['p1']]);
    expect(first.next).toBe(ids['p1']);
    const byAfter = await list(`${both}&after=${first.next}`);
    const byCursor = await list(`${both}&cursor=${first.next}`);
    expect(byAfter.profiles.map((p) => p.id)).toEqual([ids['p2']]);
    expect(byAfter.next).toBeNull();
    expect(byCursor).toEqual(byAfter);
  });
});

describe('a merged-away profile', () => {
  it('is not listed; its survivor is', async () => {
    const merge = await t.call('POST', '/profiles/merge', { ids: [ids['p4'], ids['p5']] }, { 'x-aurum-reason': 'test' });
    expect(merge.status).toBe(200);
    const survivor = ((await merge.json()) as any).profile.id;
    const listed = (await list('')).profiles.map((p) => p.id);
    expect(listed).toHaveLength(4);
    expect(listed).toContain(survivor);
    expect(listed.filter((id) => id === ids['p4'] || id === ids['p5'])).toEqual([survivor]);
  });
});
