import { randomBytes } from 'node:crypto';
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
