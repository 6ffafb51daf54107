/**
 * Consent window benchmark: how long after a withdrawal is accepted (its webhook's `202`) can a
 * marketing-only destination still receive that person's data?
 *
 * `--people` people are created with marketing granted and delivered once. Then, for `--seconds`,
 * updates arrive at `--rate` records/s (new records linked by email to random people, each a new
 * golden version and a new delivery), and `--withdrawals` a second one of the people just updated
 * withdraws, while their update is in flight. Per withdrawal it reports:
 *
 * - window: from the 202 to the last body of the person the destination received (0 when none came
 *   after the 202): how long the person's data still reached it. p50/p99/max.
 * - enforced: from the 202 to the withdrawal's link (its consent ledger entry seen committed, polled
 *   every 5 ms): from then on the consent gate lets no body of the person through, and a delivery
 *   queued before is withheld when its turn comes.
 * - violations: bodies of the person received after the link was seen committed (must be 0).
 * - notice: from the 202 to the destination receiving `profile.suppressed`.
 *
 * With `--crash` (PostgreSQL only) the hub runs as its own process (`aurum start`), is killed with
 * SIGKILL half-way through and started again at once; clients retry what the dead process did not
 * answer. The same figures are then given for the withdrawals accepted in the `--before-crash`
 * seconds before the kill: their jobs die with the process and resume within
 * AURUM_SUPERVISE_INTERVAL plus the 10 s heartbeat.
 *
 *   node bench/consent-window.ts [--people 2000] [--rate 200] [--withdrawals 5] [--seconds 60]
 *   DATABASE_URL=postgres://… node bench/consent-window.ts      # on PostgreSQL (a fresh database)
 *   DATABASE_URL=postgres://… node bench/consent-window.ts --crash [--before-crash 5]
 */

import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { sign } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { parseSettings } from '../src/config/settings.ts';
import { openDatabase, rowsOf } from '../src/db/database.ts';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/log/log.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { startCli } from '../test/helpers/cli.ts';
import { BENCH_KEY, BENCH_SECRET, fixtureHubEnv, freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '200' },
    withdrawals: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '60' },
    crash: { type: 'boolean', default: false },
    'before-crash': { type: 'string', default: '5' },
  },
});
if (args.crash && !process.env['DATABASE_URL'])
  throw new Error('--crash needs DATABASE_URL: the killed process and the next share a server');
const people = Number(args.people);
const rate = Number(args.rate);
const withdrawalRate = Number(args.withdrawals);
const seconds = Number(args.seconds);

// The marketing-only destination: every body received, by the profile it carries.
const received = new Map<string, number[]>();
const notices = new Map<string, number>();
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body.event === 'profile.suppressed') notices.set(body.id, at);
    else if (body.profile) received.set(body.profile.id, [...(received.get(body.profile.id) ?? []), at]);
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const secret = BENCH_SECRET;
const key = BENCH_KEY;
const env = {
  ...fixtureHubEnv('consent', fresh.url),
};
const settings = parseSettings(env);

/** The hub under test: in this process, or (with --crash) its own process, reached over HTTP. */
interface Target {
  request(route: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response>;
  stop(): Promise<void>;
}
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
async function inProcess(): Promise<Target & { database: Awaited<ReturnType<typeof openDatabase>> }> {
  const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 20 });
  const hub = await createHub({
    settings,
    database,
    workspace: loadWorkspace(env.AURUM_CONFIG_DIR, env),
    log: createLogger('warn'),
    workers: true,
    pollingIntervalSeconds: 0.5,
  });
  return {
    database,
    request: async (route, init) => hub.app.request(route, init),
    async stop() {
      await hub.stop();
      await database.close();
    },
  };
}
async function ownProcess(): Promise<Target & { child: ChildProcess }> {
  const { child, url } = await startCli({ ...env, PATH: process.env['PATH'] ?? '', PORT: '0' }, children);
  return { child, request: (route, init) => fetch(`${url}${route}`, init), stop: async () => void child.kill('SIGTERM') };
}
const local = args.crash ? undefined : await inProcess();
let target: Target = local ?? (await ownProcess());
// With the hub in its own process, this one reads the database beside it (the hub migrated it).
const database = local?.database ?? (await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: 'unused', max: 4, migrate: false }));

const api = async (method: string, route: string, body?: unknown) => {
  const response = await target.request(route, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.json()) as Record<string, any>;
};
/** Posts until accepted, as a webhook sender retries: resolves with the time of the 202. */
const webhook = async (records: object[]) => {
  const body = JSON.stringify(records);
  const signature = await sign(secret, body);
  for (;;) {
    const response = await target
      .request('/webhooks/crm', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
        body,
      })
      .catch(() => undefined); // the process died under it: send again
    if (response?.status === 202) return Date.now();
    if (response && response.status !== 503) throw new Error(`intake answered ${response.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
const email = (p: number) => `consent${p}@example.com`;
await api('POST', '/destinations', { url: `${base}/marketing`, purposes: ['marketing'] });

// Everyone granted, and delivered once.
for (let p = 0; p < people; p += 100) {
  await webhook(
    Array.from({ length: Math.min(100, people - p) }, (_, j) => ({
      id: `c-${p + j}`,
      email: email(p + j),
      marketing_opt_in: true,
      updated_at: '2025-01-01T00:00:00Z',
    })),
  );
}
while (received.size < people) await new Promise((resolve) => setTimeout(resolve, 100));
const profileOf = new Map<number, string>();
for (const row of rowsOf<{ record_id: string; profile_id: string }>(
  await database.db.execute(sql`select record_id, profile_id from source_records where source = 'crm' and record_id like 'c-%'`),
)) {
  profileOf.set(Number(row.record_id.slice(2)), row.profile_id);
}

// Each withdrawal's ledger entry, as soon as it is seen committed.
const linked = new Map<string, number>();
let watching = true;
const watcher = (async () => {
  while (watching) {
    const rows = rowsOf<{ record_id: string }>(
      await database.db.execute(sql`select record_id from consent_entries where source = 'crm' and status = 'denied'`),
    );
    const seen = Date.now();
    for (const r of rows) if (!linked.has(r.record_id)) linked.set(r.record_id, seen);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
})();

// The load: updates at `rate`, ten a request; withdrawals of people just updated.
const accepted = new Map<number, number>();
const withdrawn = new Set<number>();
const started = performance.now();
const pending: Promise<unknown>[] = [];
let updates = 0;
let nextWithdrawal = 0;
let crash: { killedAt: number; restartedInMs: number } | undefined;
while (performance.now() - started < seconds * 1000) {
  if (args.crash && !crash && performance.now() - started > (seconds * 1000) / 2) {
    const killedAt = Date.now();
    (target as Target & { child: ChildProcess }).child.kill('SIGKILL');
    target = await ownProcess();
    crash = { killedAt, restartedInMs: Date.now() - killedAt };
  }
  const due = started + (updates / rate) * 1000;
  if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
  const batch = Array.from({ length: 10 }, (_, j) => {
    const p = Math.floor(Math.random() * people);
    return { p, record: { id: `u-${updates + j}`, email: email(p), first_name: `Name${updates + j}` } };
  });
  updates += batch.length;
  pending.push(webhook(batch.map((b) => b.record)));
  const elapsed = (performance.now() - started) / 1000;
  if (elapsed * withdrawalRate >= nextWithdrawal) {
    nextWithdrawal++;
    const p = batch.map((b) => b.p).find((candidate) => !withdrawn.has(candidate));
    if (p !== undefined) {
      withdrawn.add(p);
      const withdrawal = { id: `c-${p}`, email: email(p), marketing_opt_in: false, updated_at: '2025-02-01T00:00:00Z' };
      pending.push(webhook([withdrawal]).then((at) => accepted.set(p, at)));
    }
  }
}
await Promise.all(pending);
const loadSeconds = (performance.now() - started) / 1000;
// Settle: every withdrawal linked and noticed, the queues empty.
for (;;) {
  const [row] = rowsOf<{ n: string | number }>(
    await database.db.execute(sql`select count(*) as n from pgboss.job where state < 'completed' and name like 'aurum-%'`),
  );
  if (Number(row?.n) === 0 && [...withdrawn].every((p) => linked.has(`c-${p}`))) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
watching = false;
await watcher;

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: pct(0.5), p99: pct(0.99), max: sorted.at(-1) };
};
function figures(ps: number[]) {
  const windows: number[] = [];
  const enforced: number[] = [];
  const noticeLags: number[] = [];
  let violations = 0;
  let sentAfter202 = 0;
  for (const p of ps) {
    const at202 = accepted.get(p) as number;
    const link = linked.get(`c-${p}`) as number;
    const bodies = received.get(profileOf.get(p) as string) ?? [];
    const after202 = bodies.filter((t) => t > at202);
    sentAfter202 += after202.length;
    violations += bodies.filter((t) => t > link).length;
    windows.push(Math.max(0, ...after202.map((t) => t - at202)));
    enforced.push(link - at202);
    const notice = notices.get(profileOf.get(p) as string);
    if (notice) noticeLags.push(notice - at202);
  }
  return {
    withdrawals: ps.length,
    windowMs: stats(windows),
    bodiesAfter202: sentAfter202,
    enforcedMs: stats(enforced),
    violations,
    suppressionNoticeMs: { ...stats(noticeLags), received: noticeLags.length },
  };
}
const [{ withheld } = { withheld: 0 }] = rowsOf<{ withheld: number }>(
  await database.db.execute(sql`select count(*)::int as withheld from deliveries where status = 'withheld'`),
);
const beforeCrash = crash
  ? [...withdrawn].filter((p) => {
      const at = accepted.get(p) as number;
      return (
        at <= (crash as { killedAt: number }).killedAt &&
        at > (crash as { killedAt: number }).killedAt - Number(args['before-crash']) * 1000
      );
    })
  : [];

console.log(
  JSON.stringify(
    {
      database: database.kind,
      node: process.version,
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      people,
      load: { updatesPerSecond: Math.round(updates / loadSeconds), seconds: Number(loadSeconds.toFixed(1)), updates },
      ...figures([...withdrawn]),
      deliveriesWithheldAtSendTime: withheld,
      ...(crash
        ? {
            crash: {
              superviseIntervalSeconds: settings.superviseIntervalSeconds,
              restartedInMs: crash.restartedInMs,
              acceptedInTheSecondsBefore: Number(args['before-crash']),
              ...figures(beforeCrash),
            },
          }
        : {}),
    },
    null,
    2,
  ),
);
await target.stop();
if (!local) await database.close();
receiver.close();
await fresh.drop();
