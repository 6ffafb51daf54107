/**
 * Derived data rebuilds itself. Record keys are named by their rule's content, so listing
 * identity.yaml's rules in another order changes nothing; a rule added, or a source's priority
 * changed, re-derives the keys or golden records in the background, with progress at GET /rebuilds.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.ts';
import { ADMIN_KEY, copyWorkspace, restartTestHub, type TestHub, waitFor } from './helpers/hub.ts';

const DEFAULTS = readFileSync(path.join(import.meta.dirname, '..', 'src', 'resolution', 'probabilistic', 'identity.default.yaml'), 'utf8');
/** identity.yaml replaces the defaults whole: the defaults with these deterministic rules. */
const withRules = (dir: string, rules: string) =>
  writeFileSync(path.join(dir, 'identity.yaml'), DEFAULTS.replace(/^deterministic: \[\]$/m, `deterministic: ${rules}`));
const setPriority = (dir: string, source: string, priority: number) => {
  const file = path.join(dir, 'connectors', `${source}.yaml`);
  writeFileSync(file, `${readFileSync(file, 'utf8').replace(/^priority: .*\n/m, '')}priority: ${priority}\n`);
};

const hubs: TestHub[] = [];
afterAll(async () => {
  for (const t of hubs.reverse()) await t.stop().catch(() => {});
});

const restart = (dir: string, previous?: TestHub) => restartTestHub(dir, previous, hubs);

const contact = (id: string, email: string) => JSON.stringify({ id, email, first_name: 'Ada', last_name: 'Byron' });
const profileOf = async (t: TestHub, email: string) => (await t.json('GET', `/profiles?email=${email}`)).profiles[0]?.id as string;
const rebuildsOf = async (t: TestHub, kind: string) =>
  ((await t.json('GET', '/rebuilds')).rebuilds as Record<string, any>[]).filter((r) => r.kind === kind);

describe('record keys', () => {
  it('still link stored records after identity.yaml lists its rules, and their fields, in another order', { timeout: 60_000 }, async () => {
    const dir = copyWorkspace();
    withRules(dir, '[[phones], [name.given, name.family]]');
    const first = await restart(dir);
    expect((await first.postWebhook('crm', contact('ro-1', 'ro1@example.com'))).status).toBe(202);
    await first.settle();

    withRules(dir, '[[name.family, name.given], [phones]]');
    const second = await restart(dir, first);
    await second.settle();
    // Nothing to re-derive: the same rules make the same keys.
    expect((await rebuildsOf(second, 'keys')).filter((r) => r.status !== 'done')).toEqual([]);
    expect((await second.postWebhook('crm', contact('ro-2', 'ro2@example.com'))).status).toBe(202);
    await second.settle();
    expect(await profileOf(second, 'ro2@example.com')).toBe(await profileOf(second, 'ro1@example.com'));
  });

  it('are derived again in the background when a rule is added, with progress, and stored records then link on it', {
    timeout: 60_000,
  }, async () => {
    const dir = copyWorkspace();
    withRules(dir, '[[phones]]');
    const first = await restart(dir);
    for (const [id, email] of [
      ['ra-1', 'ra1@example.com'],
      ['ra-other', 'other@example.com'],
    ] as const) {
      const body = id === 'ra-other' ? JSON.stringify({ id, email, first_name: 'Mary', last_name: 'Shelley' }) : contact(id, email);
      expect((await first.postWebhook('crm', body)).status).toBe(202);
    }
    await first.settle();
    expect(await rebuildsOf(first, 'keys')).toMatchObject([{ status: 'done', reason: 'nothing stored yet' }]);

    withRules(dir, '[[phones], [name.given, name.family]]');
    const second = await restart(dir, first);
    await waitFor(async () => (await rebuildsOf(second, 'keys'))[0]?.status === 'done');
    const [rebuild] = await rebuildsOf(second, 'keys');
    expect(rebuild).toMatchObject({ status: 'done', total: 2, processed: 2, progress: 1, error: null });
    expect(rebuild?.reason).toContain('identity.yaml');
    expect((await second.postWebhook('crm', contact('ra-2', 'ra2@example.com'))).status).toBe(202);
    await second.settle();
    expect(await profileOf(second, 'ra2@example.com')).toBe(await profileOf(second, 'ra1@example.com'));
    expect(await profileOf(second, 'other@example.com')).not.toBe(await profileOf(second, 'ra1@example.com'));
  });
});

describe('golden records', () => {
  it("are built again when a source's priority changes, the new first source winning", { timeout: 60_000 }, async () => {
    const dir = copyWorkspace();
    const first = await restart(dir);
    await first.postWebhook('crm', JSON.stringify({ id: 'gp-1', email: 'gp@example.com', first_name: 'Ada', last_name: 'Byron' }));
    await first.postWebhook('shop', JSON.stringify({ customer_id: 'gp-s1', email_address: 'gp@example.com', full_name: 'Ada King' }));
    await first.settle();
    const id = await profileOf(first, 'gp@example.com');
    expect((await first.json('GET', `/profiles/${id}`)).name).toMatchObject({ given: 'Ada', family: 'Byron' });

    setPriority(dir, 'crm', 0);
    setPriority(dir, 'shop', 30);
    const second = await restart(dir, first);
    await waitFor(async () => (await rebuildsOf(second, 'golden'))[0]?.status === 'done');
    await second.settle();
    expect((await second.json('GET', `/profiles/${id}`)).name).toEqual({ full: 'Ada King' });
    expect((await rebuildsOf(second, 'golden'))[0]).toMatchObject({ total: 1, processed: 1, reason: expect.stringContaining('priority') });
  });
});

describe('POST /rebuilds and aurum rebuild', () => {
  it('rebuild on request, one of a kind at a time; the CLI waits with progress and prints the outcome', { timeout: 60_000 }, async () => {
    const t = await restart(copyWorkspace());
    await t.postWebhook('crm', contact('rq-1', 'rq1@example.com'));
    await t.settle();
    const refused = await t.call('POST', '/rebuilds', { kinds: ['everything'] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'invalid_request' } });

    const server = serve({ fetch: t.hub.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const child = spawn(
        process.execPath,
        [CLI, 'rebuild', '--kind', 'keys', '--wait', '--no-progress', '--url', url, '--reason', 'checking'],
        {
          env: { ...process.env, AURUM_API_KEY: ADMIN_KEY },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (out += c));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, out).toBe(0);
      const printed = JSON.parse(out) as { rebuilds: Record<string, unknown>[] };
      expect(printed.rebuilds).toMatchObject([{ kind: 'keys', status: 'done', reason: 'checking', total: 1, processed: 1, progress: 1 }]);
      const one = await t.json('GET', `/rebuilds/${printed.rebuilds[0]?.['id']}`);
      expect(one).toMatchObject({ kind: 'keys', status: 'done' });
    } finally {
      server.close();
    }
    // Still linked on what was re-derived.
    await t.postWebhook('crm', JSON.stringify({ id: 'rq-2', email: 'rq1@example.com' }));
    await t.settle();
    expect((await t.json('GET', '/profiles?email=rq1@example.com')).profiles).toHaveLength(1);
  });

  it('page by cursor, newest first, without skipping rebuilds asked for in one transaction (one created_at)', {
    timeout: 60_000,
  }, async () => {
    const t = await restart(copyWorkspace());
    await t.postWebhook('crm', contact('pg-1', 'pg1@example.com'));
    await t.settle();
    // Both kinds in one request: one transaction, so one created_at for the two.
    await t.json('POST', '/rebuilds', { kinds: ['keys', 'golden'] });
    await t.settle();
    const all = (await t.json('GET', '/rebuilds')).rebuilds as { id: string }[];
    expect(all.length).toBeGreaterThanOrEqual(4);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { rebuilds: { id: string }[]; next: string | null } = await t.json(
        'GET',
        `/rebuilds?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      walked.push(...page.rebuilds.map((r) => r.id));
      cursor = page.next;
    } while (cursor);
    expect(walked).toEqual(all.map((r) => r.id));
    const refused = await t.call('GET', '/rebuilds?cursor=not-a-cursor');
    expect(refused.status).toBe(400);
  });
});
