/**
 * `npm run demo` against a running hub: it waits for the deliveries it shows, and leaves no
 * destination behind to retry its closed port.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli.ts';
import { copyExampleWorkspace } from './helpers/workspace.ts';

const repo = path.join(import.meta.dirname, '..');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** demo.env as `node --env-file` reads it, for a hub the demo can talk to. */
const demoEnv = Object.fromEntries(
  readFileSync(path.join(repo, 'demo.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
const key = (demoEnv['AURUM_API_KEYS'] ?? '').split(':').slice(1).join(':');

describe('npm run demo', () => {
  it('shows a delivery for every golden record, then deletes the subscribers it made', { timeout: 180_000 }, async () => {
    const hub = await startCli(
      {
        PATH: process.env['PATH'] ?? '',
        ...demoEnv,
        AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-demo-')),
        // The example's files alone: a source an ops engineer added beside them would wait for its secret.
        AURUM_CONFIG_DIR: copyExampleWorkspace(),
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
      children,
    );
    const { stdout } = await promisify(execFile)(process.execPath, ['--env-file=demo.env', 'scripts/demo.ts'], {
      cwd: repo,
      env: { PATH: process.env['PATH'] ?? '', AURUM_URL: hub.url },
    });
    expect(stdout).toContain('9 records from 4 silos became 3 golden records and 1 account');

    const get = async <T>(route: string) =>
      (await (await fetch(`${hub.url}${route}`, { headers: { authorization: `Bearer ${key}` } })).json()) as T;
    const ids = new Set<string>();
    for (const email of ['ada.lovelace@example.com', 'grace@navy.example', 'alan@bletchley.example']) {
      for (const p of (await get<{ profiles: { id: string }[] }>(`/profiles?email=${encodeURIComponent(email)}`)).profiles) ids.add(p.id);
    }
    expect(ids.size).toBe(3);
    // The ERP's company is an account, Ada its member (named by the ERP's parent_id and by marketing's company name).
    const [account] = (await get<{ accounts: { id: string; name: string }[] }>('/accounts?domain=analytical.example')).accounts;
    expect(account?.name).toBe('Analytical Engines Ltd');
    const ada = (await get<{ profiles: { id: string }[] }>('/profiles?email=ada.lovelace%40example.com')).profiles[0];
    const { members } = await get<{ members: { profileId: string; source: string; role: string | null }[] }>(`/accounts/${account?.id}`);
    expect(members.map((m) => [m.profileId, m.source, m.role]).sort()).toEqual([
      [ada?.id, 'erp', 'Founder'],
      [ada?.id, 'marketing', null],
    ]);
    // Every golden record changed, so the subscriber of every change was sent each one before the demo ended.
    const allChanges = stdout.split('\n').filter((line) => line.trim().startsWith('all-changes'));
    for (const id of ids) expect(allChanges.some((line) => line.includes(id) && line.endsWith('signature valid'))).toBe(true);

    expect(await get('/destinations')).toEqual({ destinations: [] });
  });
});
