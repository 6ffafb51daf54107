/**
 * Delivery benchmark: records arrive as signed webhooks, become golden records, and are delivered to
 * two local receivers. One answers at once; the other (unless --no-slow) waits `--slow-ms` and then
 * answers 500, every time. Reports the fast destination's deliveries/s and its latency from golden
 * change (the profile's update) to receipt, p50/p99: what one broken consumer costs the others.
 *
 * Records arrive as fast as intake takes them, or at `--rate` records/s (10 a request) for a steady
 * load, where the latency says what a consumer waits rather than how long a backlog takes to drain.
 *
 *   node bench/delivery.ts [--records 5000] [--rate 100] [--slow-ms 2000] [--no-slow]
 *   DATABASE_URL=postgres://… node bench/delivery.ts      # on PostgreSQL (uses a fresh database)
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { sign } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { parseSettings } from '../src/config/settings.ts';
import { openDatabase, rowsOf } from '../src/db/database.ts';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/log/log.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { BENCH_KEY, BENCH_SECRET, fixtureHubEnv, freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '5000' },
    'slow-ms': { type: 'string', default: '2000' },
    'no-slow': { type: 'boolean', default: false },
    rate: { type: 'string', default: '0' },
  },
});
const records = Number(args.records);
const slowMs = Number(args['slow-ms']);

// The receivers: arrival time per delivery id.
const arrivals = new Map<string, number>();
let slowCalls = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/fast') {
      arrivals.set(String(req.headers['x-aurum-delivery']), Date.now());
      res.writeHead(204).end();
    } else {
      slowCalls++;
      setTimeout(() => res.writeHead(500).end(), slowMs);
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const secret = BENCH_SECRET;
const key = BENCH_KEY;
const env = {
  ...fixtureHubEnv('delivery', fresh.url),
  // Delivery settings to try, from the environment.
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AURUM_DELIVERY_'))),
};
const settings = parseSettings(env);
const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 20 });
const hub = await createHub({
  settings,
  database,
  workspace: loadWorkspace(env.AURUM_CONFIG_DIR, env),
  log: createLogger('warn'),
  workers: true,
  pollingIntervalSeconds: 0.5,
});
const api = async (method: string, route: string, body?: unknown) => {
  const response = await hub.app.request(route, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.json()) as Record<string, any>;
};
const fast = await api('POST', '/destinations', { url: `${base}/fast` });
if (!args['no-slow']) await api('POST', '/destinations', { url: `${base}/slow` });

const rate = Number(args.rate);
const perRequest = rate > 0 ? 10 : 100;
const started = performance.now();
for (let i = 0; i < records; i += perRequest) {
  if (rate > 0) {
    const due = started + (i / rate) * 1000;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
  }
  const batch = Array.from({ length: Math.min(perRequest, records - i) }, (_, j) => ({
    id: `b-${i + j}`,
    email: `person${i + j}@example.com`,
    first_name: `Person${i + j}`,
  }));
  const body = JSON.stringify(batch);
  const response = await hub.app.request('/webhooks/crm', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(secret, body) },
    body,
  });
  if (response.status !== 202) throw new Error(`intake answered ${response.status}`);
}
while (arrivals.size < records) await new Promise((resolve) => setTimeout(resolve, 50));
const seconds = (performance.now() - started) / 1000;

const latencies = rowsOf<{ id: string; changed_at: Date | string }>(
  await database.db.execute(sql`select id, changed_at from deliveries where destination_id = ${fast['id']} and status = 'delivered'`),
)
  .map((d) => (arrivals.get(d.id) ?? Number.NaN) - new Date(d.changed_at).getTime())
  .filter(Number.isFinite)
  .sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];

console.log(
  JSON.stringify(
    {
      database: database.kind,
      node: process.version,
      records,
      arrival: rate > 0 ? `${rate} records/s` : 'as fast as intake takes them',
      slowDestination: args['no-slow'] ? null : { answers: 500, afterMs: slowMs, attemptsMade: slowCalls },
      fast: {
        delivered: arrivals.size,
        seconds: Number(seconds.toFixed(1)),
        deliveriesPerSecond: Math.round(arrivals.size / seconds),
        latencyMs: { p50: pct(50), p99: pct(99), max: latencies.at(-1) },
      },
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    null,
    2,
  ),
);
await hub.stop();
await database.close();
receiver.close();
await fresh.drop();
