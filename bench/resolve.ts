/**
 * Batch resolution benchmark: generates synthetic people (bench/generate-people.ts), runs the real
 * `aurum resolve` as a child process, evaluates the result, and prints records/s, peak memory, F1
 * and blocking recall.
 *
 *   node bench/resolve.ts --records 100000
 *   node bench/resolve.ts --records 100000 --mix realistic [--examples 5] [--config DIR] [--dir DIR]
 *
 * With `--mix realistic` (three sources, households, other scripts: see generate-people.ts) it
 * resolves with bench/workspace-realistic and also scores each group of people on its own
 * (groups.csv): precision and recall among the group's records, and the wrong links that join one
 * of its records to another person outside it. `--examples N` lists, per group, the N most
 * confident false links and the N closest misses with each field's level. `--config` resolves with
 * another workspace (one with its own identity.yaml, say); `--dir` keeps the generated files there,
 * and a second run with the same `--dir` resolves them again instead of generating new ones.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { pairwiseMetrics } from '../src/cli/evaluate.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    dir: { type: 'string' },
    mix: { type: 'string', default: 'base' },
    examples: { type: 'string', default: '0' },
    config: { type: 'string' },
  },
});
const realistic = values.mix === 'realistic';
const records = Number(values.records);
// Records a base person makes on average: 1.9 in the base mix; the realistic mix adds the desk's
// records and its own people (2.82 a base person in all).
const people = Math.round(records / (realistic ? 2.82 : 1.9));
const dir = values.dir ?? `/tmp/aurum-people-${values.mix}-${records}`;
const root = path.join(import.meta.dirname, '..');
const sources = realistic ? ['crm=crm.ndjson', 'shop=shop.csv', 'desk=desk.csv'] : ['crm=crm.ndjson', 'shop=shop.csv'];

if (!existsSync(path.join(dir, 'truth.csv'))) {
  await run(process.execPath, [
    path.join(root, 'bench', 'generate-people.ts'),
    '--people',
    String(people),
    '--mix',
    values.mix,
    '--out',
    dir,
  ]);
}
const cli = path.join(root, 'src', 'cli', 'index.ts');
const started = performance.now();
const { stderr } = await run(
  process.execPath,
  [
    '--max-old-space-size=8192',
    cli,
    'resolve',
    '--no-progress',
    '--config',
    values.config ?? path.join(root, 'bench', realistic ? 'workspace-realistic' : 'workspace'),
    ...sources.flatMap((s) => ['--input', s.replace('=', `=${dir}/`)]),
    '--out',
    `${dir}/clusters.csv`,
  ],
  { maxBuffer: 256 * 1024 * 1024 },
);
const seconds = (performance.now() - started) / 1000;
const summary = stderr.split('\n').find((l) => l.startsWith('resolved')) ?? '';
const resolved = Number(/resolved (\d+) records/.exec(summary)?.[1]);
const peak = Number(/peak memory (\d+) MB/.exec(summary)?.[1]);
const { stdout } = await run(process.execPath, [
  cli,
  'evaluate',
  '--clusters',
  `${dir}/clusters.csv`,
  '--truth',
  `${dir}/truth.csv`,
  '--worst',
  '0',
]);
const metric = (name: string) => Number(new RegExp(`^${name}\\s+([0-9.]+)`, 'm').exec(stdout)?.[1]);
console.log(
  JSON.stringify(
    {
      mix: values.mix,
      records: resolved,
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(resolved / seconds),
      peakMemoryMb: peak,
      precision: metric('precision'),
      recall: metric('recall'),
      f1: metric('F1'),
      blockingRecall: metric('blocking recall'),
      candidatePairs: Number(/resolved .*?\((\d+) candidate pairs/.exec(summary)?.[1]),
      node: process.version,
      summary,
      ...(realistic ? { groups: await byGroup(Number(values.examples)) } : {}),
    },
    null,
    2,
  ),
);

interface Link {
  a: [string, string];
  b: [string, string];
  probability: number;
  levels?: Record<string, string>;
  rule?: string;
}

/** Accuracy per group of people, and the group's worst errors if asked for. */
async function byGroup(examples: number) {
  const rows = (file: string) => parse(readFileSync(path.join(dir, file)), { columns: true }) as Record<string, string>[];
  const key = (source: string, id: string) => `${source}/${id}`;
  const cluster = new Map(
    rows('clusters.csv').map((r) => [key(r['source'] as string, r['record_id'] as string), r['profile_id'] as string]),
  );
  const entity = new Map(rows('truth.csv').map((r) => [key(r['source'] as string, r['record_id'] as string), r['entity_id'] as string]));
  const group = new Map(rows('groups.csv').map((r) => [key(r['source'] as string, r['record_id'] as string), r['group'] as string]));
  const members = new Map<string, string[]>();
  for (const [record, c] of cluster) members.set(c, [...(members.get(c) ?? []), record]);

  // Wrong pairs that join a group's record to another person's outside the group.
  const outside = new Map<string, number>();
  for (const list of members.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, b] = [list[i] as string, list[j] as string];
        const [ga, gb] = [group.get(a), group.get(b)];
        if (entity.get(a) === entity.get(b) || ga === gb) continue;
        for (const g of [ga, gb]) if (g) outside.set(g, (outside.get(g) ?? 0) + 1);
      }
    }
  }
  const worst = new Map<string, { falseLinks: string[]; misses: string[] }>();
  if (examples > 0) {
    const linked: Link[] = [];
    for await (const line of createInterface({ input: createReadStream(`${dir}/clusters.csv.links.ndjson`) })) {
      if (line) linked.push(JSON.parse(line) as Link);
    }
    linked.sort((x, y) => y.probability - x.probability);
    const describe = (l: Link) =>
      `${key(...l.a)} ~ ${key(...l.b)} p=${l.probability.toFixed(3)}: ${
        l.rule ??
        Object.entries(l.levels ?? {})
          .filter(([, level]) => level !== 'null')
          .map(([field, level]) => `${field}=${level}`)
          .join(', ')
      }`;
    for (const l of linked) {
      const [a, b] = [key(...l.a), key(...l.b)];
      const g = group.get(a) ?? 'base';
      const list = worst.get(g) ?? { falseLinks: [], misses: [] };
      worst.set(g, list);
      const sameCluster = cluster.get(a) === cluster.get(b);
      const sameEntity = entity.get(a) === entity.get(b);
      if (sameCluster && !sameEntity && list.falseLinks.length < examples) list.falseLinks.push(describe(l));
      if (!sameCluster && sameEntity && list.misses.length < examples) list.misses.push(describe(l));
    }
  }

  const out: Record<string, unknown> = {};
  for (const g of [...new Set(group.values())].sort()) {
    const truth = new Map([...entity].filter(([record]) => group.get(record) === g));
    const m = pairwiseMetrics(cluster, truth);
    out[g] = {
      records: truth.size,
      truePairs: m.truePairs,
      precision: Number(m.precision.toFixed(4)),
      recall: Number(m.recall.toFixed(4)),
      f1: Number(m.f1.toFixed(4)),
      falsePairsWithin: m.predictedPairs - m.truePositives,
      falsePairsWithOthers: outside.get(g) ?? 0,
      ...worst.get(g),
    };
  }
  return out;
}
