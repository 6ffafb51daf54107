import type { Profile } from '../../mapping/profile.ts';
import { blockedValues } from '../keys.ts';
import type { IdentityConfig } from './config.ts';
import { estimateLambda, estimateMBySession } from './em.ts';
import { normaliseText, transformed, valuesOf } from './features.ts';
import { describeLevel, levelOf, NULL_LEVEL } from './levels.ts';
import { Nicknames } from './nicknames.ts';

export interface LinkInput {
  /** `source/recordId`: how the record is named in output and explanations. */
  key: string;
  profile: Profile;
}

/** How often each value of a term-frequency-adjusted field occurs among `total` values counted. */
export interface TermFrequencies {
  counts: Map<string, number>;
  total: number;
}

/** Fellegi–Sunter parameters, estimated without labels. */
export interface Model {
  /** Prior probability that a pair of records drawn at random is a match. */
  lambda: number;
  /** m[c][level]: P(level | match); u[c][level]: P(level | non-match). Level 0 (null) is unused. */
  m: number[][];
  u: number[][];
  /** Per comparison, its term frequencies when it is `tf`-adjusted. A value not counted occurred once. */
  tf: (TermFrequencies | undefined)[];
}

/** One pair's comparison: its level on each field, its match weight and probability. */
export interface Score {
  levels: Uint8Array;
  weight: number;
  probability: number;
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
  /** For each input, the index of its cluster's first record: a stable cluster id. */
  cluster: Int32Array;
  links: Link[];
  model: Model;
  stats: { records: number; candidatePairs: number; patterns: number; linkedPairs: number; clusters: number };
}

export class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root] as number;
    while (this.parent[x] !== root) {
      const next = this.parent[x] as number;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }
  /** The smaller index becomes the root, so a cluster is named by its first record. */
  union(a: number, b: number): void {
    const x = this.find(a);
    const y = this.find(b);
    if (x < y) this.parent[y] = x;
    else if (y < x) this.parent[x] = y;
  }
}

/** A deterministic PRNG, so a run is repeatable. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pairs of record indices in typed arrays: millions of them fit where objects would not. */
export class PairList {
  a = new Int32Array(1024);
  b = new Int32Array(1024);
  count = 0;
  push(x: number, y: number): void {
    if (this.count === this.a.length) {
      const grow = (old: Int32Array) => {
        const next = new Int32Array(old.length * 2);
        next.set(old);
        return next;
      };
      this.a = grow(this.a);
      this.b = grow(this.b);
    }
    this.a[this.count] = x;
    this.b[this.count] = y;
    this.count++;
  }
}

/**
 * Clusters by links, strongest first, on top of what `uf` already joined (deterministic links). A
 * link that would put two records of `apart` (scored far apart by the model) into one cluster is
 * left out, so one false link cannot chain two people's records together. Returns how many links
 * were taken.
 *
 * Each cluster keeps a list of its members; a union scans the smaller cluster's members' `apart`
 * partners for one in the other cluster, so a record is scanned O(log n) times.
 */
export function clusterLinks(uf: UnionFind, positive: { a: number; b: number; weight: number }[], apart: PairList): number {
  const n = uf.parent.length;
  // Partners of each record, as adjacency in compressed rows.
  const offsets = new Int32Array(n + 1);
  for (let k = 0; k < apart.count; k++) {
    const x = (apart.a[k] as number) + 1;
    const y = (apart.b[k] as number) + 1;
    offsets[x] = (offsets[x] as number) + 1;
    offsets[y] = (offsets[y] as number) + 1;
  }
  for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i + 1] as number) + (offsets[i] as number);
  const partners = new Int32Array(apart.count * 2);
  const fill = offsets.slice(0, n);
  for (let k = 0; k < apart.count; k++) {
    const x = apart.a[k] as number;
    const y = apart.b[k] as number;
    partners[fill[x] as number] = y;
    fill[x] = (fill[x] as number) + 1;
    partners[fill[y] as number] = x;
    fill[y] = (fill[y] as number) + 1;
  }
  // Member lists per root, starting from the clusters `uf` already holds.
  const next = new Int32Array(n).fill(-1);
  const head = new Int32Array(n).fill(-1);
  const tail = new Int32Array(n).fill(-1);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const root = uf.find(i);
    if (head[root] === -1) head[root] = i;
    else next[tail[root] as number] = i;
    tail[root] = i;
    size[root] = (size[root] as number) + 1;
  }
  const conflicts = (small: number, other: number) => {
    for (let m = head[small] as number; m !== -1; m = next[m] as number) {
      for (let p = offsets[m] as number; p < (offsets[m + 1] as number); p++) {
        if (uf.find(partners[p] as number) === other) return true;
      }
    }
    return false;
  };

  positive.sort((x, y) => y.weight - x.weight);
  let taken = 0;
  for (const { a, b } of positive) {
    const ra = uf.find(a);
    const rb = uf.find(b);
    if (ra === rb) continue;
    const [small, large] = (size[ra] as number) <= (size[rb] as number) ? [ra, rb] : [rb, ra];
    if (conflicts(small, large)) continue;
    uf.union(a, b);
    taken++;
    const root = uf.find(a);
    const other = root === ra ? rb : ra;
    next[tail[root] as number] = head[other] as number;
    tail[root] = tail[other] as number;
    size[root] = (size[root] as number) + (size[other] as number);
  }
  return taken;
}

export type Progress = (stage: string, done: number, total: number) => void;

export class Engine {
  readonly config: IdentityConfig;
  readonly nicknames: Nicknames;
  readonly #blocked: ReadonlySet<string>;

  constructor(config: IdentityConfig, nicknames: Nicknames) {
    this.config = config;
    this.nicknames = nicknames;
    this.#blocked = blockedValues(config.blockedValues);
  }

  /** The values of every compared field of a profile. */
  features(profile: Profile): string[][] {
    return this.config.comparisons.map((c) => valuesOf(profile, c.field, this.#blocked));
  }

  /** The keys a profile is blocked on, or linked on deterministically, for each rule. */
  keys(profile: Profile, rules: readonly string[][]): string[] {
    const out: string[] = [];
    for (const [r, rule] of rules.entries()) {
      let parts: string[] = [`${r}`];
      for (const spec of rule) {
        const [field, transform] = spec.split(':') as [string, string | undefined];
        const values = transformed(valuesOf(profile, field, this.#blocked), transform);
        if (values.length === 0) {
          parts = [];
          break;
        }
        parts = parts.flatMap((p) => values.map((v) => `${p}\u0001${v}`));
      }
      out.push(...parts);
    }
    return out;
  }

  compare(a: string[][], b: string[][], into: Uint8Array, offset: number): void {
    const comparisons = this.config.comparisons;
    for (let c = 0; c < comparisons.length; c++) {
      into[offset + c] = levelOf(
        (comparisons[c] as IdentityConfig['comparisons'][number]).levels,
        a[c] as string[],
        b[c] as string[],
        this.nicknames,
      );
    }
  }

  /** Term frequencies of tf-adjusted fields: how many records hold each value. */
  termFrequencies(features: readonly string[][][]): (TermFrequencies | undefined)[] {
    return this.config.comparisons.map((c, ci) => {
      if (!c.tf) return undefined;
      const counts = new Map<string, number>();
      let total = 0;
      for (const f of features) {
        for (const v of f[ci] as string[]) {
          counts.set(v, (counts.get(v) ?? 0) + 1);
          total++;
        }
      }
      return { counts, total };
    });
  }

  /** u from pairs drawn at random: nearly all non-matches, whatever the data. */
  estimateU(features: readonly string[][][]): number[][] {
    const C = this.config.comparisons.length;
    const counts = this.config.comparisons.map((c) => new Float64Array(c.levels.length + 2));
    const n = features.length;
    const next = random(42);
    const levels = new Uint8Array(C);
    const samples = n < 2 ? 0 : Math.min(this.config.uSamplePairs, (n * (n - 1)) / 2);
    for (let s = 0; s < samples; s++) {
      const i = Math.floor(next() * n);
      let j = Math.floor(next() * (n - 1));
      if (j >= i) j++;
      this.compare(features[i] as string[][], features[j] as string[][], levels, 0);
      for (let c = 0; c < C; c++) {
        const row = counts[c] as Float64Array;
        const l = levels[c] as number;
        row[l] = (row[l] ?? 0) + 1;
      }
    }
    // Laplace smoothing: a level never seen among random pairs is rare, not impossible.
    return counts.map((row) => {
      const total = row.reduce((a, b, l) => (l === NULL_LEVEL ? a : a + b), 0) + row.length - 1;
      return [...row].map((x, l) => (l === NULL_LEVEL ? 1 : (x + 1) / total));
    });
  }

  /** The log2 Bayes factor of one field's level, term-frequency adjusted for exact matches. */
  fieldWeight(model: Model, c: number, level: number, a: readonly string[], b: readonly string[]): number {
    if (level === NULL_LEVEL) return 0;
    const m = (model.m[c] as number[])[level] as number;
    let u = (model.u[c] as number[])[level] as number;
    const tf = model.tf[c];
    if (tf && tf.total > 0 && level === 1) {
      const shared = a.find((v) => b.includes(v));
      // A value the model never counted is rare: it occurred once.
      if (shared !== undefined) u = Math.max((tf.counts.get(shared) ?? 1) / tf.total, 1e-7);
    }
    return Math.log2(m / u);
  }

  /** The match weight of a compared pair: the prior plus each field's weight. */
  weight(model: Model, levels: Uint8Array, offset: number, a: readonly string[][], b: readonly string[][]): number {
    let weight = Math.log2(model.lambda / (1 - model.lambda));
    for (let c = 0; c < this.config.comparisons.length; c++) {
      weight += this.fieldWeight(model, c, levels[offset + c] as number, a[c] as string[], b[c] as string[]);
    }
    return weight;
  }

  /** Compares two records' features and weighs the result. */
  score(model: Model, a: readonly string[][], b: readonly string[][]): Score {
    const levels = new Uint8Array(this.config.comparisons.length);
    this.compare(a as string[][], b as string[][], levels, 0);
    const weight = this.weight(model, levels, 0, a, b);
    return { levels, weight, probability: 1 / (1 + 2 ** -weight) };
  }

  /** Whether a weight reaches the configured threshold (`thresholdWeight`, else `threshold`). */
  links(weight: number): boolean {
    const { thresholdWeight, threshold } = this.config;
    return thresholdWeight !== undefined ? weight >= thresholdWeight : 1 / (1 + 2 ** -weight) >= threshold;
  }

  explain(levels: Uint8Array, offset: number): Record<string, string> {
    const out: Record<string, string> = {};
    this.config.comparisons.forEach((c, i) => {
      out[c.field] = describeLevel(c.levels, levels[offset + i] as number);
    });
    return out;
  }

  /**
   * Candidate pairs of records sharing a blocking key, each once, with the rules that proposed it
   * as a bit set. A pair is coded as `a * n + b` (a < b).
   */
  candidatePairs(profiles: readonly Profile[]): { pairs: Float64Array; rulesOf: Uint32Array } {
    const n = profiles.length;
    const blocks = new Map<string, number[]>();
    profiles.forEach((profile, i) => {
      for (const key of this.keys(profile, this.config.blocking)) {
        const block = blocks.get(key);
        if (block) {
          if (block.length <= this.config.maxBlockSize) block.push(i);
        } else blocks.set(key, [i]);
      }
    });
    // A pair's code carries the rule that proposed it, so EM can run one session per rule.
    const R = this.config.blocking.length;
    let codes = new Float64Array(1 << 16);
    let count = 0;
    for (const [blockKey, block] of blocks) {
      if (block.length < 2 || block.length > this.config.maxBlockSize) continue;
      const rule = Number(blockKey.slice(0, blockKey.indexOf('\u0001')));
      for (let x = 0; x < block.length; x++) {
        for (let y = x + 1; y < block.length; y++) {
          if (count === codes.length) {
            const grown = new Float64Array(codes.length * 2);
            grown.set(codes);
            codes = grown;
          }
          codes[count++] = ((block[x] as number) * n + (block[y] as number)) * R + rule;
        }
      }
    }
    blocks.clear();
    const sorted = codes.subarray(0, count).sort();
    const pairs = new Float64Array(count);
    const rulesOf = new Uint32Array(count);
    let unique = 0;
    for (let k = 0; k < count; k++) {
      const code = sorted[k] as number;
      const pair = Math.floor(code / R);
      if (unique === 0 || pairs[unique - 1] !== pair) pairs[unique++] = pair;
      rulesOf[unique - 1] = (rulesOf[unique - 1] as number) | (1 << (code - pair * R));
    }
    return { pairs: pairs.slice(0, unique), rulesOf: rulesOf.slice(0, unique) };
  }

  /**
   * Estimates the model from unlabelled records: compares every candidate pair once, u from random
   * pairs, m by EM in one session per blocking rule, λ from the candidates, term frequencies.
   * Returns the compared levels too, so a batch run need not compare twice.
   */
  train(features: readonly string[][][], profiles: readonly Profile[], progress: Progress = () => {}) {
    const n = profiles.length;
    const C = this.config.comparisons.length;
    const R = this.config.blocking.length;
    const { pairs, rulesOf } = this.candidatePairs(profiles);
    const unique = pairs.length;
    const levels = new Uint8Array(unique * C);
    const sessions = this.config.blocking.map(() => new Map<number, { levels: Uint8Array; count: number }>());
    // Every candidate pair once, by pattern, for λ (a pair proposed by several rules is in several sessions).
    const allPatterns = new Map<number, { levels: Uint8Array; count: number }>();
    for (let k = 0; k < unique; k++) {
      if (k % 50000 === 0) progress('compare', k, unique);
      const code = pairs[k] as number;
      const a = Math.floor(code / n);
      const b = code - a * n;
      this.compare(features[a] as string[][], features[b] as string[][], levels, k * C);
      const pattern = levels.subarray(k * C, k * C + C);
      // A pattern as a number: 4 bits a field (levels stay below 16, at most 13 fields).
      let id = 0;
      for (let c = 0; c < C; c++) id = id * 16 + (pattern[c] as number);
      const overall = allPatterns.get(id);
      if (overall) overall.count++;
      else allPatterns.set(id, { levels: pattern.slice(), count: 1 });
      for (let r = 0; r < R; r++) {
        if (!((rulesOf[k] as number) & (1 << r))) continue;
        const session = sessions[r] as Map<number, { levels: Uint8Array; count: number }>;
        const entry = session.get(id);
        if (entry) entry.count++;
        else session.set(id, { levels: pattern.slice(), count: 1 });
      }
    }
    progress('compare', unique, unique);

    const u = this.estimateU(features);
    const m = estimateMBySession(this.config, sessions, u);
    // The Bayes factors use u of random pairs, so the prior is that of a random pair: the expected
    // number of matches among candidates (whose m and u are now fixed) over all possible pairs.
    const { lambda: candidateLambda } = estimateLambda(allPatterns.values(), m, u);
    const expectedMatches = candidateLambda * unique;
    const lambda = Math.min(Math.max(expectedMatches / ((n * (n - 1)) / 2 || 1), 1e-12), 0.5);
    const model: Model = { lambda, m, u, tf: this.termFrequencies(features) };
    return { model, pairs, levels, patterns: allPatterns.size };
  }

  resolve(inputs: readonly LinkInput[], progress: Progress = () => {}): BatchResult {
    const n = inputs.length;
    const C = this.config.comparisons.length;
    const profiles = inputs.map((r) => r.profile);
    const features = profiles.map((p, i) => {
      if (i % 10000 === 0) progress('features', i, n);
      return this.features(p);
    });
    progress('features', n, n);
    const uf = new UnionFind(n);
    const links: Link[] = [];

    // Deterministic rules, and external ids (one system's id is one person).
    const byKey = new Map<string, number>();
    profiles.forEach((profile, i) => {
      for (const { key, rule } of this.linkKeys(profile)) {
        const first = byKey.get(key);
        if (first === undefined) byKey.set(key, i);
        else if (uf.find(first) !== uf.find(i)) {
          uf.union(first, i);
          links.push({ a: first, b: i, probability: 1, weight: Number.POSITIVE_INFINITY, levels: {}, rule });
        }
      }
    });

    const { model, pairs, levels, patterns } = this.train(features, profiles, progress);

    const positive: { a: number; b: number; weight: number }[] = [];
    const apart = new PairList();
    const cannotLink = this.config.cannotLinkWeight;
    for (let k = 0; k < pairs.length; k++) {
      const code = pairs[k] as number;
      const a = Math.floor(code / n);
      const b = code - a * n;
      const weight = this.weight(model, levels, k * C, features[a] as string[][], features[b] as string[][]);
      const probability = 1 / (1 + 2 ** -weight);
      if (this.links(weight)) positive.push({ a, b, weight });
      else if (weight <= cannotLink) {
        apart.push(a, b);
      }
      if (probability >= 0.05) links.push({ a, b, probability, weight, levels: this.explain(levels, k * C) });
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
      stats: { records: n, candidatePairs: pairs.length, patterns, linkedPairs: linked, clusters: roots.size },
    };
  }

  /**
   * The keys that link records outright, each with the rule it stands for: the deterministic rules'
   * keys, and external ids (one system's id is one person).
   */
  linkKeys(profile: Profile): { key: string; rule: string }[] {
    const out = this.keys(profile, this.config.deterministic).map((key) => ({
      key: `d${key}`,
      rule: (this.config.deterministic[Number(key.slice(0, key.indexOf('\u0001')))] ?? []).join('+'),
    }));
    for (const [system, id] of Object.entries(profile.externalIds ?? {})) {
      if (!this.#blocked.has(normaliseText(id))) out.push({ key: `ext:${system}:${id}`, rule: `externalIds.${system}` });
    }
    return out;
  }
}

const engines = new WeakMap<IdentityConfig, Engine>();
/** The engine of an identity configuration, built once: the nickname list is read once. */
export function engineFor(config: IdentityConfig): Engine {
  let engine = engines.get(config);
  if (!engine) {
    engine = new Engine(config, config.nicknames ? Nicknames.load(config.nicknames) : Nicknames.load());
    engines.set(config, engine);
  }
  return engine;
}
