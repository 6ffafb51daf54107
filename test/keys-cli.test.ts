/**
 * `aurum keys create|list|revoke` on the hub's database, then the keys in use against a running hub.
 * On PGlite the CLI and the hub take turns (embedded mode is one process); on PostgreSQL they share it.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, startCli } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from './helpers/database.ts';
import { FIXTURE, SECRETS } from './helpers/hub.ts';

const children: ChildProcess[] = [];
let shared: TestDatabase | undefined;
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await shared?.drop();
});

const ADMIN = 'keys-cli-admin-key-0123';
async function target(): Promise<Record<string, string>> {
  if (!testDatabaseUrl) return { AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-keys-')) };
  shared = await createTestDatabase();
  return { DATABASE_URL: shared.url as string };
}

const aurum = (env: Record<string, string>, ...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, 'keys', ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

async function withHub<T>(env: Record<string, string>, run: (url: string) => Promise<T>): Promise<T> {
  const hub = await startCli(
    {
      PATH: process.env['PATH'] ?? '',
      ...env,
      AURUM_API_KEYS: `admin:${ADMIN}`,
      AURUM_CONFIG_DIR: FIXTURE,
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...SECRETS,
    },
    children,
  );
  try {
    return await run(hub.url);
  } finally {
    hub.child.kill('SIGTERM');
    await new Promise((resolve) => hub.child.once('exit', resolve));
  }
}

describe('aurum keys', () => {
  it('lists no keys without creating a database where there is none', async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'aurum-keys-')), '.aurum');
    const listed = await aurum({ AURUM_DATA_DIR: dataDir }, 'list');
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringContaining(`no database yet in ${dataDir}`) });
    expect(existsSync(dataDir)).toBe(false);
    const revoked = await aurum({ AURUM_DATA_DIR: dataDir }, 'revoke', 'analyst');
    expect(revoked).toMatchObject({ code: 1, stderr: `aurum: no database yet in ${dataDir}, so no key named analyst\n` });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('creates a key that works with its role, lists it without its token, and revokes it', { timeout: 120_000 }, async () => {
    const env = await target();
    const created = await aurum(
      { ...env, AURUM_ACTOR: 'dana' },
      'create',
      '--role',
      'reader',
      '--name',
      'analyst',
      '--reason',
      'onboarding',
    );
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^aurum_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown once');

    const again = await aurum(env, 'create', '--role', 'ops', '--name', 'analyst');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/aurum: a live key is already named analyst/);
    const badRole = await aurum(env, 'create', '--role', 'king', '--name', 'x');
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toMatch(/--role must be one of/);

    const listed = await aurum(env, 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/analyst.*reader/);
    expect(listed.stdout).toContain(token.slice(0, 12));
    expect(listed.stdout).not.toContain(token);

    await withHub(env, async (url) => {
      const get = (route: string, key = token) => fetch(`${url}${route}`, { headers: { authorization: `Bearer ${key}` } });
      expect((await get('/profiles?email=nobody@example.com')).status).toBe(200);
      expect((await get('/sources')).status).toBe(403);
      const audit = (await (await get('/audit?action=key.created', ADMIN)).json()) as { entries: Record<string, unknown>[] };
      expect(audit.entries).toContainEqual(
        expect.objectContaining({ actor: 'cli:dana', reason: 'onboarding', details: { key: 'analyst', role: 'reader' } }),
      );
    });

    const revoked = await aurum(env, 'revoke', 'analyst', '--reason', 'left the team');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked key analyst');
    expect((await aurum(env, 'revoke', 'analyst')).stderr).toMatch(/there is no live key named analyst/);
    expect((await aurum(env, 'list', '--revoked')).stdout).toMatch(/analyst/);

    await withHub(env, async (url) => {
      const response = await fetch(`${url}/profiles?email=nobody@example.com`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
    });
  });
});
