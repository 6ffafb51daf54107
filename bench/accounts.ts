/**
 * Account resolution accuracy, through the live pipeline: `aurum resolve` clusters persons only, so
 * the realistic mix's organisations (bench/generate-people.ts --mix realistic: the CRM's companies
 * and the support desk's organisations, with legal-form, case, "&"/"and" and accent variants and
 * namesakes in other towns) go to a hub as signed webhooks, with bench/workspace-realistic's
 * mappings. The accounts it builds are scored against truth-accounts.csv: pairwise precision,
 * recall and F1, with the worst false merges and misses and the link each record was given.
 *
 *   node bench/accounts.ts [--people 2000] [--dir DIR] [--examples 5]
 *   DATABASE_URL=postgres://… node bench/accounts.ts      # on PostgreSQL (uses a fresh database)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { BENCH_KEY, BENCH_SECRET, freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '2000' },
    dir: { type: 'string' },
    examples: { type: 'string', default: '5' },
  },
});
const dataDir = args.dir ?? mkdtempSync(path.join(tmpdir(), 'aurum-accounts-'));
if (!existsSync(path.join(dataDir, 'truth-accounts.csv'))) {
  execFileSync(
    process.execPath,
    [path.join(import.meta.dirname, 'generate-people.ts'), '--people', args.people, '--mix', 'realistic', '--out', dataDir],
    { stdio: 'ignore' },
  );
}
const crm = readFileSync(path.join(dataDir, 'crm-accounts.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l) as Record<string, unknown>);
// The desk's empty cells are missing values, as its API would leave them out.
const desk = (
  parse(readFileSync(path.join(dataDir, 'desk-organizations.csv')), { columns: true, trim: true }) as Record<string, string>[]
).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== '')));

// The realistic workspace's mappings behind webhook connectors.
const workspaceDir = mkdtempSync(path.join(tmpdir(), 'aurum-accounts-ws-'));
const realistic = path.join(import.meta.dirname, 'workspace-realistic');
cpSync(path.join(realistic, 'mappings'), path.join(workspaceDir, 'mappings'), { recursive: true });
mkdirSync(path.join(workspaceDir, 'connectors'));
for (const file of readdirSync(path.join(realistic, 'connectors'))) {
  writeFileSync(path.join(workspaceDir, 'connectors', file), 'type: webhook\nsecret: ${BENCH_SECRET}\n');
}

const fresh = await freshDatabase(process.env['DATABASE_URL']);
const env = {
  AURUM_API_KEYS: `admin:${BENCH_KEY}`,
  AURUM_CONFIG_DIR: workspaceDir,
  AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-accounts-db-')),
  LOG_LEVEL: 'warn',
  BENCH_SECRET,
  ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
};
const settings = parseSettings(env);
const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, max: 20 });
const hub = await createHub({
  settings,
  database,
  workspace: loadWorkspace(workspaceDir, env),
  log: createLogger('warn'),
  workers: true,
  pollingIntervalSeconds: 0.5,
});

for (const [source, records] of [
  ['crm', crm],
  ['desk', desk],
] as const) {
  for (let i = 0; i < records.length; i += 100) {
    const body = JSON.stringify(records.slice(i, i + 100));
    const response = await hub.app.request(`/webhooks/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(BENCH_SECRET, body) },
      body,
    });
    if (response.status !== 202) throw new Error(`intake answered ${response.status}`);
  }
}
// Done when every stored record has been handed to the queue and the queue is empty.
for (;;) {
  const [row] = rowsOf<{ n: string }>(
    await database.db.execute(
      sql`select (select count(*) from intake_outbox) + (select count(*) from pgboss.job where state < 'completed' and name like 'aurum-%') as n`,
    ),
  );
  if (Number(row?.n) === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const quarantined = rowsOf<{ source: string; code: string; n: string }>(
  await database.db.execute(sql`select source, code, count(*) as n from quarantine group by source, code`),
);
const members = rowsOf<{ source: string; record_id: string; profile_id: string; fragment: { name?: string }; link: unknown }>(
  await database.db.execute(
    sql`select source, record_id, profile_id, fragment, link from source_records where entity = 'account' and deleted_at is null`,
  ),
);
const truth = parse(readFileSync(path.join(dataDir, 'truth-accounts.csv')), { columns: true }) as Record<string, string>[];
const entity = new Map(truth.map((t) => [`${t['source']}/${t['record_id']}`, t['entity_id'] as string]));
const cluster = new Map(members.map((m) => [`${m.source}/${m.record_id}`, m.profile_id]));
const scores = pairwiseMetrics(cluster, entity);

// The worst errors: records of two companies on one account, and one company's records apart.
const byKey = new Map(members.map((m) => [`${m.source}/${m.record_id}`, m]));
const show = (k: string) => {
  const m = byKey.get(k);
  return `${k} ${JSON.stringify(m?.fragment.name)} (${entity.get(k)}) link ${JSON.stringify(m?.link)}`;
};
const examples = Number(args.examples);
const falseMerges: string[] = [];
const misses: string[] = [];
const keys = [...cluster.keys()];
for (let i = 0; i < keys.length; i++) {
  for (let j = i + 1; j < keys.length; j++) {
    const [a, b] = [keys[i] as string, keys[j] as string];
    const sameAccount = cluster.get(a) === cluster.get(b);
    const sameCompany = entity.get(a) === entity.get(b);
    if (sameAccount && !sameCompany && falseMerges.length < examples) falseMerges.push(`${show(a)}\n    ~ ${show(b)}`);
    if (!sameAccount && sameCompany && misses.length < examples) misses.push(`${show(a)}\n    ~ ${show(b)}`);
  }
}

console.log(
  JSON.stringify(
    {
      database: database.kind,
      records: members.length,
      quarantined,
      companies: new Set(truth.map((t) => t['entity_id'])).size,
      accounts: new Set(members.map((m) => m.profile_id)).size,
      precision: Number(scores.precision.toFixed(4)),
      recall: Number(scores.recall.toFixed(4)),
      f1: Number(scores.f1.toFixed(4)),
      truePairs: scores.truePairs,
      predictedPairs: scores.predictedPairs,
    },
    null,
    2,
  ),
);
if (examples > 0) {
  console.log('\nfalse merges (two companies on one account):');
  for (const e of falseMerges) console.log(`  ${e}`);
  console.log('\nmisses (one company on two accounts):');
  for (const e of misses) console.log(`  ${e}`);
}
await hub.stop();
await database.close();
await fresh.drop();
