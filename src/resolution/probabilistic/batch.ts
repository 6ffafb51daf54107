/**
 * Batch resolution (`aurum resolve`): every record at once, on the same engine as the live hub.
 * Deterministic keys link outright; candidate pairs from the blocking rules are compared, the model
 * is estimated from them without labels, and the pairs are weighed and clustered.
 *
 * Comparing is the costly step, so the caller supplies where it is done: in this thread
 * (`compareHere`), or split over worker threads (`src/cli/resolve-pool.ts`).
 */
import type { Profile } from '../../mapping/profile.ts';
import type { BlockIndex } from './block-index.ts';
import { clusterLinks, PairList, UnionFind } from './cluster.ts';
import { comparePairs, type PatternCounts } from './compare-pairs.ts';
import { CANNOT_LINK_WEIGHT, type Engine, type LinkKey, type Model, type Progress } from './engine.ts';
import { type FeatureTable, FeatureTableBuilder } from './feature-table.ts';

/** What a batch needs of each record: its compared values (in a table) and its keys. */
export interface BatchRecords {
  table: FeatureTable;
  linkKeys: readonly (readonly LinkKey[])[];
  /** The records' blocking keys, indexed. */
  blocks: BlockIndex;
}

/** Where a batch's comparing is done: in this thread (`compareHere`) or in worker threads. */
export interface Comparer {
  /** Compares candidate pairs (see `comparePairs`). */
  compare(pairs: Float64Array, rulesOf: Uint32Array): Promise<PatternCounts>;
  /** Per field, how many of the sampled random pairs reach each level (see `Engine.countLevels`). */
  countLevels(sample: Int32Array): Promise<Float64Array[]>;
}

export interface Link {
  a: number;
  b: number;
  probability: number;
  weight: number;
  /** Per comparison field, the level reached (`exact`, `jaroWinkler>=0.92`, `else`, `null`). */
  levels: Record<string, string>;
  /** Set when a deterministic rule linked the pair. */
  rule?: string;
}

export interface BatchResult {
  /** For each record, the index of its cluster's first record: a stable cluster id. */
  cluster: Int32Array;
  /** Deterministic links, and scored pairs with a match probability of 5 % or more, for explanations. */
  links: Link[];
  model: Model;
  stats: {
    records: number;
    candidatePairs: number;
    /** Per blocking rule, the candidate pairs it proposed (a pair two rules proposed counts for both). */
    pairsByRule: number[];
    patterns: number;
    linkedPairs: number;
    clusters: number;
  };
}

/** The batch view of profiles, computed in this thread. */
export function describeRecords(engine: Engine, profiles: readonly Profile[]): BatchRecords {
  const table = new FeatureTableBuilder(engine.config.comparisons.length);
  const linkKeys: LinkKey[][] = [];
  const blocks = engine.blockIndex();
  for (const profile of profiles) {
    const described = engine.describe(profile);
    table.add(described.features);
    linkKeys.push(described.linkKeys);
    blocks.add(described.blockKeys);
  }
  return { table: table.build(), linkKeys, blocks };
}

/** Compares in this thread. */
export function compareHere(engine: Engine, table: FeatureTable, progress: Progress = () => {}): Comparer {
  return {
    compare: (pairs, rulesOf) => Promise.resolve(comparePairs(engine, table, pairs, rulesOf, progress)),
    countLevels: (sample) => Promise.resolve(engine.countLevels(table, sample)),
  };
}

const NO_FIELDS: readonly number[] = [];

export async function resolveBatch(
  engine: Engine,
  records: BatchRecords,
  comparer: Comparer,
  progress: Progress = () => {},
): Promise<BatchResult> {
  const { table, linkKeys, blocks } = records;
  const n = table.records;
  const uf = new UnionFind(n);
  const links: Link[] = [];

  // Deterministic rules, and external ids (one system's id is one person).
  const byKey = new Map<string, number>();
  linkKeys.forEach((keys, i) => {
    for (const { key, rule } of keys) {
      const first = byKey.get(key);
      if (first === undefined) byKey.set(key, i);
      else if (uf.find(first) !== uf.find(i)) {
        uf.union(first, i);
        links.push({ a: first, b: i, probability: 1, weight: Number.POSITIVE_INFINITY, levels: {}, rule });
      }
    }
  });
  byKey.clear();

  // Random pairs for u are compared while the candidate pairs are being found.
  const sampled = comparer.countLevels(engine.uSample(n));
  progress('block', 0, n);
  const { pairs, rulesOf } = blocks.pairs();
  progress('block', n, n);
  const comparing = Promise.all([comparer.compare(pairs, rulesOf), sampled]);
  // Counted while the threads compare.
  const pairsByRule = engine.config.blocking.map(() => 0);
  for (const rules of rulesOf) {
    for (let r = 0, bits = rules; bits !== 0; r++, bits >>>= 1) if (bits & 1) pairsByRule[r] = (pairsByRule[r] as number) + 1;
  }
  const [counts, levelCounts] = await comparing;
  const { model, patterns } = engine.estimate(table, counts, engine.uFromCounts(levelCounts));

  // A pair's weight is its pattern's, plus the term-frequency adjustment of the values it agrees on.
  // A pattern that breaks a cannotLink rule weighs CANNOT_LINK_WEIGHT, whatever the values.
  const broken = patterns.map((levels) => engine.cannotLink(model, levels) !== undefined);
  const counted = patterns.map((levels) => engine.counted(model, levels));
  const base = patterns.map((levels, p) => (broken[p] ? CANNOT_LINK_WEIGHT : engine.patternWeight(model, levels, 0, counted[p])));
  const tf = engine.tfAdjustments(model, table);
  const tfFields = tf.flatMap((t, c) => (t ? [c] : []));
  const explanations: (Record<string, string> | undefined)[] = [];
  const positive: { a: number; b: number; weight: number }[] = [];
  const apart = new PairList();
  for (let k = 0; k < pairs.length; k++) {
    const code = pairs[k] as number;
    const a = Math.floor(code / n);
    const b = code - a * n;
    const p = counts.patternOf[k] as number;
    const levels = patterns[p] as Uint8Array;
    let weight = base[p] as number;
    for (const c of broken[p] ? NO_FIELDS : tfFields) {
      if (levels[c] !== 1 || !((counted[p] as number) & (1 << c))) continue;
      const shared = table.shared(c, a, b);
      if (shared >= 0) weight += (tf[c] as Float64Array)[shared] as number;
    }
    if (engine.links(weight)) positive.push({ a, b, weight });
    else if (weight <= engine.config.cannotLinkWeight) apart.push(a, b);
    const probability = 1 / (1 + 2 ** -weight);
    if (probability >= 0.05) {
      explanations[p] ??= engine.explain(levels, 0);
      links.push({ a, b, probability, weight, levels: explanations[p] });
    }
  }
  const linked = clusterLinks(uf, positive, apart);

  const cluster = new Int32Array(n);
  const roots = new Set<number>();
  for (let i = 0; i < n; i++) {
    cluster[i] = uf.find(i);
    roots.add(cluster[i] as number);
  }
  return {
    cluster,
    links,
    model,
    stats: { records: n, candidatePairs: pairs.length, pairsByRule, patterns: patterns.length, linkedPairs: linked, clusters: roots.size },
  };
}
