/**
 * Intake benchmark: signed webhook requests against a real server, measured with autocannon.
 *
 *   node bench/intake.ts [--duration 10] [--connections 32] [--batch 1] [--rounds 3]
 *   DATABASE_URL=postgres://… node bench/intake.ts      # on PostgreSQL (uses a fresh database)
 *
 * Each round measures a bare hono server on the same database (it checks the same HMAC and INSERTs
 * each body, one statement a request: the floor any durable intake has to beat), then the hub's
 * intake alone (AURUM_ROLE=api: store raw + queue, group commit). Rounds alternate the two so that a
 * machine's drift (a neighbour's load, its clock) falls on both; the ratio reported is the median
 * of the rounds'. Then the workers start and the backlog is timed to golden records.
 */
import { fork } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import autocannon from 'autocannon';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import postgres from 'postgres';
import { parseSettings } from '../src/config/settings.ts';
import { openDatabase, rowsOf } from '../src/db/database.ts';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/log/log.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    batch: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    client: { type: 'string' },
    /** The first person number of a client: each load gets people of its own. */
    offset: { type: 'string', default: '0' },
  },
});
const secret = 'bench-secret-0123456789';

// The load generator runs in a process of its own, so it never shares an event loop with the hub.
if (args.client) {
  const batch = Number(args.batch);
  let n = Number(args.offset);
  const person = () => {
    n++;
    return {
      id: n,
      name: `Person ${n}`,
      email: `person${n}@bench.example`,
      // London numbers, distinct for ten million people.
      phone: `+44207${String(n % 10_000_000).padStart(7, '0')}`,
      updated_at: '2026-01-01T00:00:00Z',
      open_tickets: n % 3,
    };
  };
  const result = await autocannon({
    url: args.client,
    method: 'POST',
    connections: Number(args.connections),
    duration: Number(args.duration),
    requests: [
      {
        setupRequest: (request) => {
          const body = JSON.stringify(batch === 1 ? person() : Array.from({ length: batch }, person));
          const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
          return { ...request, body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } };
        },
      },
    ],
  });
  process.send?.({
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  });
  process.exit(0);
}
const env = {
  AURUM_API_KEYS: 'admin:bench-admin-key',
  AURUM_DEFAULT_REGION: 'GB',
  LOG_LEVEL: 'warn',
  MARKETING_WEBHOOK_SECRET: secret,
  SUPPORT_WEBHOOK_SECRET: secret,
  BILLING_WEBHOOK_SECRET: secret,
  ERP_WEBHOOK_SECRET: secret,
};
const workspaceDir = path.join(import.meta.dirname, '..');

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const databaseUrl = fresh.url;
const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-bench-'));
const settings = parseSettings({
  ...env,
  AURUM_ROLE: 'api',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  AURUM_DATA_DIR: dataDir,
});
const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 20 });

type LoadResult = { ok: number; non2xx: number; errors: number; timeouts: number; p50: number; p99: number };
let loads = 0;
function load(url: string): Promise<LoadResult> {
  // A million people a load: no two loads send the same person.
  const offset = String(loads++ * 1_000_000);
  const client = fork(import.meta.filename, [
    '--offset',
    offset,
    '--client',
    url,
    '--duration',
    args.duration,
    '--connections',
    args.connections,
    '--batch',
    args.batch,
  ]);
  return new Promise((resolve) => client.once('message', (m) => resolve(m as never)));
}

// Phase 0: the bare server. Same HMAC check (constant time, after a length check), one INSERT each.
await database.db.execute(sql`create table bare_intake (id bigint generated always as identity primary key, body jsonb not null)`);
const bareSql = databaseUrl ? postgres(databaseUrl, { max: 20, onnotice: () => {} }) : undefined;
const insertBare = bareSql
  ? async (body: string) => {
      await bareSql`insert into bare_intake (body) values (${body}::jsonb)`;
    }
  : async (body: string) => {
      await database.db.execute(sql`insert into bare_intake (body) values (${body}::jsonb)`);
    };
const bareApp = new Hono().post('/webhooks/bare', async (c) => {
  const body = await c.req.text();
  const given = Buffer.from(c.req.header('x-hub-signature-256') ?? '');
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return c.json({ error: 'signature' }, 401);
  await insertBare(body);
  return c.json({ accepted: 1 }, 202);
});
const bareServer = serve({ fetch: bareApp.fetch, port: 0 });
await new Promise((resolve) => bareServer.once('listening', resolve));
const workspace = loadWorkspace(workspaceDir, env);
const log = createLogger('warn');
const api = await createHub({ settings, database, workspace, log, workers: false });
const server = serve({ fetch: api.app.fetch, port: 0 });
await new Promise((resolve) => server.once('listening', resolve));

/** CPU time of this process (the server under test) per accepted request, in microseconds. */
const cpuPerRequest = (used: NodeJS.CpuUsage, ok: number) => Math.round((used.user + used.system) / Math.max(ok, 1));
async function measure(url: string) {
  const cpu = process.cpuUsage();
  const result = await load(url);
  return { ...result, cpuMicrosPerRequest: cpuPerRequest(process.cpuUsage(cpu), result.ok) };
}
const rounds: { bare: Awaited<ReturnType<typeof measure>>; hub: Awaited<ReturnType<typeof measure>> }[] = [];
for (let round = 0; round < Number(args.rounds); round++) {
  const bare = await measure(`http://127.0.0.1:${(bareServer.address() as AddressInfo).port}/webhooks/bare`);
  const hub = await measure(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/support`);
  rounds.push({ bare, hub });
}
bareServer.close();
await bareSql?.end();
const records = Number(rowsOf<{ n: string }>(await database.db.execute(sql`select count(*) as n from raw_records`))[0]?.n);

// Phase 2: the workers drain the backlog.
const workerSettings = { ...settings, role: 'worker' as const };
const started = performance.now();
const workers = await createHub({ settings: workerSettings, database, workspace, log, workers: true, pollingIntervalSeconds: 0.5 });
let golden = 0;
while (golden < records) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  golden = Number(rowsOf<{ n: string }>(await database.db.execute(sql`select count(*) as n from source_records`))[0]?.n);
}
const drainSeconds = (performance.now() - started) / 1000;

const perSecond = (ok: number) => Math.round(ok / Number(args.duration));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const phase = (r: Awaited<ReturnType<typeof measure>>) => ({
  requestsPerSecond: perSecond(r.ok),
  latencyMs: { p50: r.p50, p99: r.p99 },
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
  cpuMicrosPerRequest: r.cpuMicrosPerRequest,
});
const ratios = rounds.map((r) => Number((r.hub.ok / Math.max(r.bare.ok, 1)).toFixed(2)));
const report = {
  database: database.kind,
  node: process.version,
  connections: Number(args.connections),
  recordsPerRequest: Number(args.batch),
  durationSeconds: Number(args.duration),
  rounds: rounds.map((r, i) => ({ bare: phase(r.bare), hub: phase(r.hub), ratio: ratios[i] })),
  /** The hub's accepted requests per second over the bare server's, median of the rounds: the goal is 1.0 or more. */
  ratio: median(ratios),
  intake: { records, recordsPerSecond: Math.round(records / (Number(args.duration) * rounds.length)) },
  pipeline: { records, seconds: Number(drainSeconds.toFixed(1)), recordsPerSecond: Math.round(records / drainSeconds) },
  hubPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
};
console.log(JSON.stringify(report, null, 2));

server.close();
await workers.stop();
await api.stop();
await database.close();
await fresh.drop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
