import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

/**
 * A benchmark's own database: with `DATABASE_URL` set, a new database on that server, dropped by
 * `drop` (or left for inspection by `keep`); without it, nothing (the hub embeds PGlite).
 */
export async function freshDatabase(serverUrl: string | undefined) {
  if (!serverUrl) return { url: undefined, drop: async () => {}, keep: async () => {} };
  const name = `aurum_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
    keep: () => admin.end(),
  };
}

/** The secret the fixture workspace's sources sign with, and the admin key, in the delivery benches. */
export const BENCH_SECRET = 'bench-secret-0123456789';
export const BENCH_KEY = 'bench-admin-key-0123456789';

/**
 * A hub's environment on the test fixture workspace (sources crm and shop), with destinations on
 * localhost allowed, on `databaseUrl` or a fresh embedded data dir.
 */
export function fixtureHubEnv(name: string, databaseUrl: string | undefined) {
  return {
    AURUM_API_KEYS: `admin:${BENCH_KEY}`,
    AURUM_CONFIG_DIR: path.join(import.meta.dirname, '..', 'test', 'fixtures', 'workspace'),
    AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), `aurum-${name}-bench-`)),
    AURUM_ALLOW_PRIVATE_DESTINATIONS: 'true',
    AURUM_DEFAULT_REGION: 'GB',
    LOG_LEVEL: 'warn',
    CRM_SECRET: BENCH_SECRET,
    SHOP_SECRET: BENCH_SECRET,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}
