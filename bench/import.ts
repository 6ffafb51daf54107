/**
 * File import benchmark: the real `aurum import` streams a generated NDJSON file to a real server's
 * `POST /sources/:source/import`, which parses and stores it a batch at a time. Reports MB/s,
 * records/s and the hub's peak memory, which must stay flat whatever the file's size.
 *
 *   node bench/import.ts [--records 200000]
 *   DATABASE_URL=postgres://… node bench/import.ts      # on PostgreSQL (uses a fresh database)
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { serveHub } from '../src/api/serve.ts';
import { parseSettings } from '../src/config/settings.ts';
import { openDatabase } from '../src/db/database.ts';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/log/log.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '200000' } } });
const records = Number(args.records);
const secret = 'bench-secret-0123456789';
const key = 'bench-ops-key-0123456789';
const env = {
  AURUM_API_KEYS: `ops:${key}`,
  AURUM_DEFAULT_REGION: 'GB',
  LOG_LEVEL: 'warn',
  MARKETING_WEBHOOK_SECRET: secret,
  SUPPORT_WEBHOOK_SECRET: secret,
  BILLING_WEBHOOK_SECRET: secret,
  ERP_WEBHOOK_SECRET: secret,
};

// The file, written as a stream: the bench holds no more of it than the hub does.
const dir = mkdtempSync(path.join(tmpdir(), 'aurum-import-bench-'));
const file = path.join(dir, 'users.ndjson');
const out = createWriteStream(file);
for (let n = 1; n <= records; n++) {
  const line = `${JSON.stringify({
    id: n,
    name: `Person ${n}`,
    email: `person${n}@bench.example`,
    phone: `+4420794${String(n % 100000).padStart(5, '0')}`,
    updated_at: '2026-01-01T00:00:00Z',
    open_tickets: n % 3,
    notes: 'x'.repeat(80),
  })}\n`;
  if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}
await new Promise<void>((resolve) => out.end(() => resolve()));
const bytes = statSync(file).size;

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const settings = parseSettings({
  ...env,
  AURUM_ROLE: 'api',
  ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
  AURUM_DATA_DIR: path.join(dir, 'data'),
});
const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 10 });
const hub = await createHub({
  settings,
  database,
  workspace: loadWorkspace(path.join(import.meta.dirname, '..'), env),
  log: createLogger('warn'),
  workers: false,
});
const server = serveHub(hub.app, 0);
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const rssBefore = Math.round(process.memoryUsage().rss / 1024 / 1024);

const started = performance.now();
const { stdout } = await promisify(execFile)(
  process.execPath,
  [
    path.join(import.meta.dirname, '..', 'src', 'cli', 'index.ts'),
    'import',
    '--source',
    'support',
    file,
    '--url',
    url,
    '--key',
    key,
    '--no-wait',
    '--no-progress',
  ],
  { maxBuffer: 16 * 1024 * 1024 },
);
const seconds = (performance.now() - started) / 1000;
const result = JSON.parse(stdout) as { accepted: number; duplicates: number; rejected: number };

console.log(
  JSON.stringify(
    {
      database: database.kind,
      node: process.version,
      records,
      megabytes: Number((bytes / 1024 / 1024).toFixed(1)),
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(records / seconds),
      megabytesPerSecond: Number((bytes / 1024 / 1024 / seconds).toFixed(1)),
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejected: result.rejected,
      hubRssBeforeMb: rssBefore,
      hubPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    null,
    2,
  ),
);
server.close();
await hub.stop();
await database.close();
await fresh.drop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
