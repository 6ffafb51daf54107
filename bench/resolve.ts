/**
 * Batch resolution benchmark: generates synthetic people (bench/generate-people.ts), runs the real
 * `aurum resolve` as a child process, evaluates the result, and prints records/s, peak memory, F1
 * and blocking recall.
 *
 *   node bench/resolve.ts --records 100000
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, dir: { type: 'string' } } });
const records = Number(values.records);
const people = Math.round(records / 1.9); // the generator makes 1.9 records a person on average
const dir = values.dir ?? `/tmp/aurum-people-${records}`;
const root = path.join(import.meta.dirname, '..');

if (!existsSync(path.join(dir, 'truth.csv'))) {
  await run(process.execPath, [path.join(root, 'bench', 'generate-people.ts'), '--people', String(people), '--out', dir]);
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
    path.join(root, 'bench', 'workspace'),
    '--input',
    `crm=${dir}/crm.ndjson`,
    '--input',
    `shop=${dir}/shop.csv`,
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
    },
    null,
    2,
  ),
);
