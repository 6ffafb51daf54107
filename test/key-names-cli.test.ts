/** `aurum keys create` refuses the names the hub's own actors sign the audit log with, as POST /keys does. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from './helpers/database.ts';

let shared: TestDatabase | undefined;
afterAll(async () => {
  await shared?.drop();
});

describe('aurum keys create', () => {
  it('refuses a reserved name, says why, and stores no key', { timeout: 60_000 }, async () => {
    let env: Record<string, string>;
    if (testDatabaseUrl) {
      shared = await createTestDatabase();
      env = { DATABASE_URL: shared.url as string };
    } else env = { AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-keys-')) };
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, 'keys', ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    for (const name of ['aurum', 'cli', 'env:admin', 'source:crm']) {
      const refused = await run('create', '--role', 'admin', '--name', name);
      expect(refused.code, name).not.toBe(0);
      expect(refused.stderr).toContain('reserved');
      expect(refused.stdout).toBe('');
    }
    const listed = await run('list');
    expect(listed.stdout).toContain('no keys');
  });
});
