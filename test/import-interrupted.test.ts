/**
 * An import whose hub was killed mid-file: it reads as `interrupted` (not `receiving` forever), and
 * sending the file again stores only what was missing.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, openDatabase, rowsOf } from '../src/db/database.ts';
import { IMPORT_STALE_MS } from '../src/intake/imports-store.ts';
import { startCli } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from './helpers/database.ts';
import { FIXTURE, SECRETS, startTestHub, type TestHub, waitFor } from './helpers/hub.ts';

const children: ChildProcess[] = [];
let second: TestHub | undefined;
let database: TestDatabase | undefined;
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await second?.stop();
  await database?.drop();
});

interface ImportView {
  id: string;
  status: string;
  accepted: number;
  duplicates: number;
  finishedAt: string | null;
  heartbeatAt: string;
}

const KEY = 'interrupted-ops-key-0123456789';
const lines = Array.from({ length: 1500 }, (_, i) =>
  JSON.stringify({ id: `int-${i}`, first_name: `Given${i}`, last_name: 'Interrupted', email: `int-${i}@example.com` }),
);
const file = `${lines.join('\n')}\n`;

/** The data dir's lock outlives a killed process for a while; wait for it as a restarting hub would. */
async function reopenPglite(dataDir: string): Promise<TestDatabase> {
  for (;;) {
    try {
      const opened = await openDatabase({ dataDir });
      return { database: opened, url: undefined, drop: () => opened.close() };
    } catch (error) {
      if (!(error instanceof DataDirLockedError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

describe('an import whose hub died', () => {
  it('reads as interrupted once its heartbeat is stale, and a re-sent file stores nothing twice', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-interrupted-'));
    if (testDatabaseUrl) database = await createTestDatabase();
    const env = {
      PATH: process.env['PATH'] ?? '',
      AURUM_API_KEYS: `ops:${KEY}`,
      AURUM_DATA_DIR: dataDir,
      AURUM_CONFIG_DIR: FIXTURE,
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
      ...SECRETS,
    };
    const { child, url } = await startCli(env, children);
    const headers = { authorization: `Bearer ${KEY}` };

    // The whole file but its end: the hub stores the first batch of 1,000 and waits for more.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(file));
      },
    });
    const upload = fetch(`${url}/sources/crm/import`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error);
    let started: ImportView | undefined;
    await waitFor(async () => {
      const { imports } = (await (await fetch(`${url}/imports?source=crm`, { headers })).json()) as { imports: ImportView[] };
      started = imports[0];
      return (started?.accepted ?? 0) >= 1000;
    }, 60_000);
    expect(started).toMatchObject({ status: 'receiving', accepted: 1000 });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(await upload).toBeInstanceOf(Error);

    database ??= await reopenPglite(dataDir);
    second = await startTestHub({ shareDatabase: database, workers: false });
    const id = (started as ImportView).id;
    // As a minute later: nothing has beaten for this import since its process died.
    await database.database.db.execute(
      sql`update imports set heartbeat_at = heartbeat_at - make_interval(secs => ${IMPORT_STALE_MS / 1000 + 1}) where id = ${id}`,
    );
    const interrupted = await second.json<ImportView>('GET', `/imports/${id}`);
    expect(interrupted).toMatchObject({ status: 'interrupted', accepted: 1000, finishedAt: interrupted.heartbeatAt });
    const { imports } = await second.json<{ imports: ImportView[] }>('GET', '/imports?source=crm');
    expect(imports.map((i) => [i.id, i.status])).toEqual([[id, 'interrupted']]);

    const again = await second.call('POST', '/sources/crm/import', file, { 'content-type': 'application/x-ndjson' });
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ status: 'received', accepted: 500, duplicates: 1000 });
    const [held] = rowsOf<{ n: string | number; hashes: string | number }>(
      await database.database.db.execute(
        sql`select count(*) as n, count(distinct content_hash) as hashes from raw_records where source = 'crm'`,
      ),
    );
    expect({ n: Number(held?.n), hashes: Number(held?.hashes) }).toEqual({ n: 1500, hashes: 1500 });
  });
});
