import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { readBlockingRecall } from './blocking-recall.ts';

export interface EvaluateOptions {
  clusters: string;
  truth: string;
  explain?: string;
  blocks?: string;
  worst?: string;
}

interface ScoredLink {
  a: [string, string];
  b: [string, string];
  probability: number;
  weight: number | null;
  rule?: string;
  levels?: Record<string, string>;
}

const key = (source: string, recordId: string) => `${source}/${recordId}`;
const pairsOf = (n: number) => (n * (n - 1)) / 2;

/** The rows of a CSV file as `source/record_id` and the third column's value, in file order. */
async function readRows(file: string, columns: [string, string, string]): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const row of createReadStream(file).pipe(parse({ columns: true, trim: true, skipEmptyLines: true, bom: true }))) {
    const r = row as Record<string, string>;
    const [s, id, value] = columns.map((c) => r[c]);
    if (s === undefined || id === undefined || value === undefined) throw new Error(`${file}: needs columns ${columns.join(',')}`);
    out.push([key(s, id), value]);
  }
  return out;
}

/** Pairwise metrics of a clustering against the truth. */
export function pairwiseMetrics(predicted: Map<string, string>, truth: Map<string, string>) {
  const clusterSizes = new Map<string, number>();
  const entitySizes = new Map<string, number>();
  const cellSizes = new Map<string, number>();
  for (const [record, cluster] of predicted) {
    const entity = truth.get(record);
    if (entity === undefined) continue;
    clusterSizes.set(cluster, (clusterSizes.get(cluster) ?? 0) + 1);
    entitySizes.set(entity, (entitySizes.get(entity) ?? 0) + 1);
    const cell = `${cluster}\u0001${entity}`;
    cellSizes.set(cell, (cellSizes.get(cell) ?? 0) + 1);
  }
  let predictedPairs = 0;
  let truePairs = 0;
  let truePositives = 0;
  for (const n of clusterSizes.values()) predictedPairs += pairsOf(n);
  for (const n of entitySizes.values()) truePairs += pairsOf(n);
  for (const n of cellSizes.values()) truePositives += pairsOf(n);
  const precision = predictedPairs === 0 ? 1 : truePositives / predictedPairs;
  const recall = truePairs === 0 ? 1 : truePositives / truePairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, truePositives, predictedPairs, truePairs, clusters: clusterSizes.size, entities: entitySizes.size };
}

function describe(link: ScoredLink): string {
  if (link.rule) return `linked by rule ${link.rule}`;
  const levels = Object.entries(link.levels ?? {})
    .filter(([, level]) => level !== 'null')
    .map(([field, level]) => `${field}=${level}`)
    .join(', ');
  return `p=${link.probability.toFixed(3)} weight=${link.weight?.toFixed(2)}: ${levels}`;
}

export async function runEvaluate(options: EvaluateOptions): Promise<void> {
  const rows = await readRows(options.clusters, ['source', 'record_id', 'profile_id']);
  const predicted = new Map(rows);
  const truth = new Map(await readRows(options.truth, ['source', 'record_id', 'entity_id']));
  const m = pairwiseMetrics(predicted, truth);
  const missing = [...predicted.keys()].filter((k) => !truth.has(k)).length;
  const singletons = [...new Set(predicted.values())].length;
  console.log(`records evaluated   ${predicted.size - missing}${missing ? ` (${missing} not in the truth file, ignored)` : ''}`);
  console.log(`profiles            ${m.clusters} (truth: ${m.entities} entities; ${singletons} clusters in all)`);
  console.log(`pairs               predicted ${m.predictedPairs}, true ${m.truePairs}, correct ${m.truePositives}`);
  console.log(`precision           ${m.precision.toFixed(4)}`);
  console.log(`recall              ${m.recall.toFixed(4)}`);
  console.log(`F1                  ${m.f1.toFixed(4)}`);

  // Each row's true entity as a number (-1: not in the truth file), and the rows of each entity.
  const entityIds = new Map<string, number>();
  const entityOfRow = new Int32Array(rows.length).fill(-1);
  const rowsOfEntity: number[][] = [];
  const seen = new Set<string>();
  for (const [row, [record]] of rows.entries()) {
    const entity = truth.get(record);
    // A record listed twice is counted once, as in the pairwise metrics.
    if (entity === undefined || seen.has(record)) continue;
    seen.add(record);
    let id = entityIds.get(entity);
    if (id === undefined) {
      id = rowsOfEntity.length;
      entityIds.set(entity, id);
      rowsOfEntity.push([]);
    }
    entityOfRow[row] = id;
    (rowsOfEntity[id] as number[]).push(row);
  }
  seen.clear();

  const blocksFile = options.blocks ?? `${options.clusters}.blocks.ndjson`;
  const blocking = existsSync(blocksFile) ? await readBlockingRecall(blocksFile, entityOfRow) : undefined;
  if (blocking) {
    const recall = m.truePairs === 0 ? 1 : blocking.proposed.size / m.truePairs;
    console.log(
      `blocking recall     ${recall.toFixed(4)} (${blocking.proposed.size} of ${m.truePairs} true pairs proposed; ` +
        `${blocking.candidatePairs} candidate pairs; blocks over ${blocking.maxBlockSize} records skipped)`,
    );
    const width = Math.max(...blocking.rules.map((r) => r.rule.length));
    console.log(`  ${'by rule'.padEnd(width)}  true pairs  by it alone  candidate pairs`);
    for (const r of blocking.rules) {
      console.log(
        `  ${r.rule.padEnd(width)}  ${String(r.truePairs).padStart(10)}  ${String(r.alone).padStart(11)}  ${String(r.candidatePairs).padStart(15)}`,
      );
    }
  } else console.log(`blocking recall     (no ${blocksFile}: run resolve to get it)`);

  const explainFile = options.explain ?? `${options.clusters}.links.ndjson`;
  if (!existsSync(explainFile)) {
    console.log(`\n(no ${explainFile}: run resolve to get explanations of the errors)`);
    return;
  }
  const worst = Number(options.worst ?? 10);
  const falseMerges: ScoredLink[] = [];
  const nearMisses: ScoredLink[] = [];
  const scored = new Set<string>();
  for await (const line of createInterface({ input: createReadStream(explainFile) })) {
    if (!line) continue;
    const link = JSON.parse(line) as ScoredLink;
    const a = key(...link.a);
    const b = key(...link.b);
    scored.add(`${a}\u0001${b}`);
    const sameCluster = predicted.get(a) === predicted.get(b);
    const sameEntity = truth.get(a) !== undefined && truth.get(a) === truth.get(b);
    if (sameCluster && !sameEntity && truth.has(a) && truth.has(b)) falseMerges.push(link);
    if (!sameCluster && sameEntity) nearMisses.push(link);
  }
  falseMerges.sort((x, y) => y.probability - x.probability);
  nearMisses.sort((x, y) => y.probability - x.probability);
  console.log(`\nworst false merges (linked, but different people), most confident first:`);
  for (const l of falseMerges.slice(0, worst)) console.log(`  ${key(...l.a)} ~ ${key(...l.b)}  ${describe(l)}`);
  if (falseMerges.length === 0) console.log('  none linked directly');

  console.log(`\nworst misses (same person, not linked), closest first:`);
  for (const l of nearMisses.slice(0, worst)) console.log(`  ${key(...l.a)} ~ ${key(...l.b)}  ${describe(l)}`);
  // Misses with no scored link: blocking did not propose the pair, or it scored below 0.05.
  let unscored = 0;
  const examples: string[] = [];
  for (const entityRows of rowsOfEntity) {
    for (let i = 0; i < entityRows.length; i++) {
      for (let j = i + 1; j < entityRows.length; j++) {
        const [x, y] = [entityRows[i] as number, entityRows[j] as number];
        const [a, b] = [(rows[x] as [string, string])[0], (rows[y] as [string, string])[0]];
        if (predicted.get(a) === predicted.get(b)) continue;
        if (scored.has(`${a}\u0001${b}`) || scored.has(`${b}\u0001${a}`)) continue;
        unscored++;
        if (examples.length >= worst) continue;
        const why = !blocking
          ? 'never compared: no blocking key shared (or p < 0.05)'
          : blocking.proposed.has(x * rows.length + y)
            ? 'compared, p < 0.05'
            : 'never compared: no blocking rule proposed it';
        examples.push(`  ${a} ~ ${b}  ${why}`);
      }
    }
  }
  console.log(`\nmissed pairs never scored: ${unscored}`);
  for (const e of examples) console.log(e);
}
