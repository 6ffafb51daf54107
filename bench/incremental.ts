/**
 * Incremental arrival through the pipeline, end to end, with probabilistic matching live.
 *
 *   node bench/incremental.ts [--people 20000] [--per-request 100] [--concurrency 2]
 *   DATABASE_URL=postgres://… node bench/incremental.ts      # on PostgreSQL (uses a fresh database)
 *   DATABASE_URL=postgres://… node bench/incremental.ts --processes 4   # 4 worker processes
 *
 * Synthetic people (bench/generate-people.ts: typos, nicknames, swapped dates, shared family emails)
 * arrive in random order as signed webhooks of a CRM and a shop, and are mapped, blocked against the
 * stored profiles, scored, linked and turned into golden records. The hub trains its model by itself
 * on the way (identity.yaml's `training`), as it would in production, and the clock includes that.
 * It reports records/s from the first request to the last golden record, peak memory, the models
 * trained, and the pairwise accuracy of the profiles the live pipeline built against the truth.
 *
 * With `--processes N` (PostgreSQL only), this process only takes the requests, and N processes of
 * `aurum start` with `AURUM_ROLE=worker` do the work, sharing the database as separate machines
 * would. On PostgreSQL the bench also samples, every 50 ms, how many of the database's sessions wait
 * for a lock, and reports the time spent waiting: on advisory locks (linking's keys and profiles,
 * see src/resolution/locks.ts) and on rows.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sign } from '@octokit/webhooks-methods';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { pairwiseMetrics } from '../src/cli/evaluate.ts';
import { parseSettings } from '../src/config/settings.ts';
import { openDatabase, rowsOf } from '../src/db/database.ts';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/log/log.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '20000' },
    'per-request': { type: 'string', default: '100' },
    // The hub's own default (AURUM_WORKER_CONCURRENCY). More ingest workers only queue on the
    // resolution lock: 8 ran at 1,693 records/s where 2 ran at 2,699 (10k people).
    concurrency: { type: 'string', default: '2' },
    // Worker processes besides this one (0: this process works too, as `npm start` does).
    processes: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
  },
});
const secret = 'bench-secret-0123456789';

// The people, as the two sources would send them.
const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-incr-'));
execFileSync(process.execPath, [path.join(import.meta.dirname, 'generate-people.ts'), '--people', args.people, '--out', dataDir], {
  stdio: 'ignore',
});
const crm = readFileSync(path.join(dataDir, 'crm.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => ({ source: 'crm', record: JSON.parse(l) as Record<string, unknown> }));
const shop = (parse(readFileSync(path.join(dataDir, 'shop.csv')), { columns: true, trim: true }) as Record<string, string>[]).map((r) => ({
  source: 'shop',
  record: Object.fromEntries(Object.entries(r).filter(([, v]) => v !== '')),
}));
// Interleave the sources, as they would arrive.
const all = [...crm, ...shop].sort((a, b) =>
  String(a.record['id'] ?? a.record['customer_id']).localeCompare(String(b.record['id'] ?? b.record['customer_id'])),
);
const shuffled = all
  .map((r, i) => ({ r, k: (Math.sin(i * 12.9898) * 43758.5453) % 1 }))
  .sort((a, b) => a.k - b.k)
  .map((x) => x.r);

// A workspace: the bench mappings behind two webhook connectors.
const workspaceDir = mkdtempSync(path.join(tmpdir(), 'aurum-incr-ws-'));
cpSync(path.join(import.meta.dirname, 'workspace', 'mappings'), path.join(workspaceDir, 'mappings'), { recursive: true });
mkdirSync(path.join(workspaceDir, 'connectors'));
for (const source of ['crm', 'shop']) {
  writeFileSync(path.join(workspaceDir, 'connectors', `${source}.yaml`), 'type: webhook\nsecret: ${BENCH_SECRET}\n');
}

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const databaseUrl = fresh.url;
const env = {
  AURUM_API_KEYS: 'admin:bench-admin-key-0123456789',
  AURUM_CONFIG_DIR: workspaceDir,
  AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-incr-db-')),
  AURUM_WORKER_CONCURRENCY: args.concurrency,
  LOG_LEVEL: 'warn',
  BENCH_SECRET: secret,
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
};
const settings = parseSettings(env);
const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 20 });
const workspace = loadWorkspace(workspaceDir, env);
const processes = Number(args.processes);
if (processes > 0 && !databaseUrl) throw new Error('--processes needs DATABASE_URL: the embedded database is one process');
const hub = await createHub({
  settings,
  database,
  workspace,
  log: createLogger('warn'),
  workers: processes === 0,
  pollingIntervalSeconds: 0.5,
});
const workers: ChildProcess[] = [];
for (let i = 0; i < processes; i++) {
  const cli = path.join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
  workers.push(spawn(process.execPath, [cli, 'start'], { env: { ...process.env, ...env, AURUM_ROLE: 'worker' }, stdio: 'inherit' }));
}

/** Seconds sessions spent waiting for locks, by kind, sampled every 50 ms (PostgreSQL only). */
const lockWaits = { advisory: 0, row: 0, other: 0 };
let sampling = Boolean(databaseUrl);
const sampler = (async () => {
  while (sampling) {
    const rows = rowsOf<{ kind: string; n: string | number }>(
      await database.db.execute(sql`
        select case when wait_event = 'advisory' then 'advisory' when wait_event in ('tuple', 'transactionid') then 'row' else 'other' end as kind,
          count(*) as n
        from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' group by 1`),
    );
    for (const row of rows) lockWaits[row.kind as keyof typeof lockWaits] += Number(row.n) * 0.05;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
})();

const perRequest = Number(args['per-request']);
async function send(records: typeof all) {
  const requests: Promise<void>[] = [];
  for (let i = 0; i < records.length; i += perRequest) {
    const chunk = records.slice(i, i + perRequest);
    for (const source of ['crm', 'shop']) {
      const body = JSON.stringify(chunk.filter((r) => r.source === source).map((r) => r.record));
      if (body === '[]') continue;
      requests.push(
        Promise.resolve(
          hub.app.request(`/webhooks/${source}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(secret, body) },
            body,
          }),
        ).then((response) => {
          if (response.status !== 202) throw new Error(`intake answered ${response.status}`);
        }),
      );
    }
    // Keep a bounded number of requests in flight, as senders would.
    if (requests.length >= 16) await Promise.all(requests.splice(0));
  }
  await Promise.all(requests);
}
/**
 * Every request was accepted (its records committed): done when no intake waits in the outbox for
 * its ingest job and the queues are empty (the links rebuilds trainings ask for included).
 */
async function drained({ rebuilds = true } = {}) {
  const except = rebuilds ? '' : 'aurum-rebuild';
  for (;;) {
    const [row] = rowsOf<{ n: string }>(
      await database.db.execute(sql`select
        (select count(*) from pgboss.job where state < 'completed' and name like 'aurum-%' and name <> ${except})
        + (select count(*) from intake_outbox) as n`),
    );
    if (Number(row?.n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const started = performance.now();
await send(shuffled);
// Every arrival linked and in its golden record; the links rebuilds trainings asked for may still run.
await drained({ rebuilds: false });
const arrivalSeconds = (performance.now() - started) / 1000;
await drained();
const seconds = (performance.now() - started) / 1000;
sampling = false;
await sampler;
const models = rowsOf<{ records: number; sampled: number; candidate_pairs: string }>(
  await database.db.execute(sql`select records, sampled, candidate_pairs from identity_models order by id`),
).map((m) => ({ records: m.records, candidatePairs: Number(m.candidate_pairs) }));

const quarantined = Number(rowsOf<{ n: string }>(await database.db.execute(sql`select count(*) as n from quarantine`))[0]?.n);
// Accuracy of what the live pipeline built.
const members = rowsOf<{ source: string; record_id: string; profile_id: string }>(
  await database.db.execute(sql`select source, record_id, profile_id from source_records`),
);
const truth = parse(readFileSync(path.join(dataDir, 'truth.csv')), { columns: true }) as {
  source: string;
  record_id: string;
  entity_id: string;
}[];
const scores = pairwiseMetrics(
  new Map(members.map((m) => [`${m.source}/${m.record_id}`, m.profile_id])),
  new Map(truth.map((t) => [`${t.source}/${t.record_id}`, t.entity_id])),
);

console.log(
  JSON.stringify(
    {
      database: database.kind,
      node: process.version,
      workerProcesses: processes === 0 ? 'this one' : processes,
      workerConcurrency: Number(args.concurrency),
      recordsPerRequest: perRequest,
      records: shuffled.length,
      // Until every arrival was linked and in its golden record.
      arrivalSeconds: Number(arrivalSeconds.toFixed(1)),
      arrivalRecordsPerSecond: Math.round(shuffled.length / arrivalSeconds),
      // Until the links rebuilds the trainings asked for were done too.
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(shuffled.length / seconds),
      ...(databaseUrl
        ? { lockWaitSeconds: Object.fromEntries(Object.entries(lockWaits).map(([kind, s]) => [kind, Number(s.toFixed(1))])) }
        : {}),
      modelsTrained: models,
      quarantined,
      accuracy: scores,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    null,
    2,
  ),
);
await Promise.all(
  workers.map(
    (w) =>
      new Promise((resolve) => {
        w.once('exit', resolve);
        w.kill('SIGTERM');
      }),
  ),
);
await hub.stop();
await database.close();
if (args.keep) {
  console.error(`kept ${databaseUrl ?? settings.dataDir}; truth in ${dataDir}/truth.csv`);
  await fresh.keep();
} else await fresh.drop();
