import { BlockIndex } from './block-index.ts';
import { comparePairs, type PatternCounts } from './compare-pairs.ts';
import type { IdentityConfig } from './config.ts';
import { blockedValues } from './config.ts';
import { estimateLambda, estimateMBySession } from './em.ts';
import { type FeatureTable, FeatureTableBuilder } from './feature-table.ts';
import { type Comparable, type KeyPart, normaliseText, ruleId, ruleParts, valuesOf } from './features.ts';
import { describeLevel, FieldComparator, levelOfIds, NULL_LEVEL } from './levels.ts';
import { Nicknames } from './nicknames.ts';

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
  /**
   * Per `cannotLink` rule (by position), the share of candidate pairs agreeing on one of its `unless`
   * fields that disagree on its `disagree` fields; absent where there was nothing to measure.
   */
  disagreement?: Record<string, number | null>;
}

/** One pair's comparison: its level on each field, its match weight and probability. */
export interface Score {
  levels: Uint8Array;
  weight: number;
  probability: number;
  /** The `cannotLink` rule the pair breaks (`name.given unless nationalId`), when it breaks one. */
  cannotLink?: string;
}

/** The weight of a pair that breaks a `cannotLink` rule: below any threshold and any `cannotLinkWeight`. */
export const CANNOT_LINK_WEIGHT = -1000;

/** The levels of a pattern number made by `Engine.compare`. */
export function decodePattern(pattern: number, fields: number): Uint8Array {
  const levels = new Uint8Array(fields);
  for (let c = fields - 1; c >= 0; c--) {
    levels[c] = pattern % 16;
    pattern = Math.floor(pattern / 16);
  }
  return levels;
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

/** A key that links records outright, and the rule it stands for (`name.family+dateOfBirth`, `externalIds.crm`). */
export interface LinkKey {
  key: string;
  rule: string;
}

export type Progress = (stage: string, done: number, total: number) => void;

/** A key rule, parsed: its id (see `ruleId`) and its parts in key order. */
interface Rule {
  id: string;
  parts: KeyPart[];
}

export class Engine {
  readonly config: IdentityConfig;
  readonly nicknames: Nicknames;
  readonly #blocked: ReadonlySet<string>;
  readonly #comparators: FieldComparator[];
  readonly #blockingRules: Rule[];
  readonly #deterministicRules: Rule[];
  /** Each deterministic rule's id and how the explanation names it. */
  readonly #deterministicNames: Map<string, string>;
  /** Per comparison with a `swappedWith` level: its index, that level, and the other comparison's index. */
  readonly #swaps: { c: number; level: number; other: number }[];
  /** `cannotLink` rules by comparison index, with how explanations name them. */
  readonly #cannotLink: {
    disagree: number[];
    agreeLevel: number;
    unless: number[];
    unlessLevel: number;
    name: string;
    whileRarerThan: number;
  }[];
  /** Comparisons grouped by `group` (groups of two or more), by index. */
  readonly #groups: number[][];
  /** Every comparison's bit: what `counted` returns when no group applies. */
  readonly #everyField: number;

  constructor(config: IdentityConfig, nicknames: Nicknames) {
    this.config = config;
    this.nicknames = nicknames;
    this.#blocked = blockedValues(config.blockedValues);
    this.#comparators = config.comparisons.map((c) => new FieldComparator(c.levels, nicknames));
    this.#blockingRules = config.blocking.map((rule) => ({ id: ruleId(rule), parts: ruleParts(rule) }));
    this.#deterministicRules = config.deterministic.map((rule) => ({ id: ruleId(rule), parts: ruleParts(rule) }));
    this.#deterministicNames = new Map(config.deterministic.map((rule) => [ruleId(rule), rule.join('+')]));
    const indexOf = (field: string) => config.comparisons.findIndex((c) => c.field === field);
    this.#swaps = this.#comparators.flatMap((comparator, c) =>
      comparator.swapped && indexOf(comparator.swapped.field) >= 0
        ? [{ c, level: comparator.swapped.level, other: indexOf(comparator.swapped.field) }]
        : [],
    );
    // A rule naming a field this configuration does not compare does not apply (config.ts keeps
    // such rules out of a workspace's; an engine built for accounts has none).
    this.#cannotLink = (config.cannotLink ?? [])
      .filter((rule) => [...rule.disagree, ...(rule.unless ?? [])].every((f) => indexOf(f) >= 0))
      .map((rule) => ({
        disagree: rule.disagree.map(indexOf),
        agreeLevel: rule.agreeLevel ?? Number.POSITIVE_INFINITY,
        unless: (rule.unless ?? []).map(indexOf),
        name: `${rule.disagree.join('+')}${rule.unless ? ` unless ${rule.unless.join('+')}` : ''}`,
        whileRarerThan: rule.whileRarerThan ?? Number.POSITIVE_INFINITY,
        unlessLevel: rule.unlessLevel ?? 1,
      }));
    const groups = new Map<string, number[]>();
    config.comparisons.forEach((c, i) => {
      if (c.group !== undefined) groups.set(c.group, [...(groups.get(c.group) ?? []), i]);
    });
    this.#groups = [...groups.values()].filter((members) => members.length > 1);
    this.#everyField = 2 ** config.comparisons.length - 1;
  }

  /**
   * The `cannotLink` rule a compared pair breaks, if any: it reaches no level on each of the rule's
   * `disagree` fields (both records hold them) and no level on any of its `unless` fields.
   */
  cannotLink(model: Model, levels: Uint8Array, offset = 0): string | undefined {
    for (const rule of this.#cannotLink) {
      if ((model.disagreement?.[rule.name] ?? 0) >= rule.whileRarerThan) continue;
      if (!rule.disagree.every((c) => this.#disagrees(rule, c, levels[offset + c] as number))) continue;
      const rescued = rule.unless.some((c) => {
        const level = levels[offset + c] as number;
        return level !== NULL_LEVEL && level <= rule.unlessLevel;
      });
      if (!rescued) return rule.name;
    }
    return undefined;
  }

  /** Whether comparison `c`, at `level`, disagrees for `rule`: it reaches none of the rule's agreeing levels. */
  #disagrees(rule: { agreeLevel: number }, c: number, level: number): boolean {
    const none = (this.#comparators[c] as FieldComparator).none;
    return level !== NULL_LEVEL && (level === none || level > rule.agreeLevel);
  }

  /**
   * Per `cannotLink` rule, the share of candidate pairs agreeing on an `unless` field (any level)
   * whose `disagree` fields all reach no level, among those holding them; null with fewer than 20
   * such pairs to measure, or no `unless` field.
   */
  disagreement(patterns: readonly Uint8Array[], counts: readonly number[]): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const rule of this.#cannotLink) {
      out[rule.name] = null;
      if (rule.unless.length === 0) continue;
      let held = 0;
      let disagreed = 0;
      patterns.forEach((levels, p) => {
        const agrees = rule.unless.some((c) => levels[c] === 1);
        if (!agrees || rule.disagree.some((c) => levels[c] === NULL_LEVEL)) return;
        const n = counts[p] as number;
        held += n;
        if (rule.disagree.every((c) => this.#disagrees(rule, c, levels[c] as number))) disagreed += n;
      });
      out[rule.name] = held >= 20 ? disagreed / held : null;
    }
    return out;
  }

  /** Whether a compared pair could be swapped: some `swappedWith` field is held by both and past that level. */
  #swapDue(levels: Uint8Array, offset: number): boolean {
    for (const { c, level } of this.#swaps) {
      const reached = levels[offset + c] as number;
      if (reached !== NULL_LEVEL && reached > level) return true;
    }
    return false;
  }

  /** Sets the `swappedWith` levels of a compared pair: given and family names crossed over. */
  #swap(levels: Uint8Array, offset: number, valuesA: (c: number) => readonly string[], valuesB: (c: number) => readonly string[]): void {
    for (const { c, level, other } of this.#swaps) {
      const reached = levels[offset + c] as number;
      if (reached === NULL_LEVEL || reached <= level) continue;
      const crosses = (x: readonly string[], y: readonly string[]) => x.some((v) => y.includes(v));
      if (crosses(valuesA(c), valuesB(other)) && crosses(valuesA(other), valuesB(c))) levels[offset + c] = level;
    }
  }

  /**
   * The model before any training: each comparison's documented default m and u, and the default
   * prior. A comparison without defaults gets cautious ones: agreement on its first level likely
   * among matches, rare among others.
   */
  defaultModel(): Model {
    const { m, u } = this.priors();
    return { lambda: this.config.prior, m, u, tf: this.config.comparisons.map(() => undefined) };
  }

  /** Per comparison, its default m and u, indexed by level (index 0, the null level, unused). */
  priors(): { m: number[][]; u: number[][] } {
    const m: number[][] = [];
    const u: number[][] = [];
    for (const c of this.config.comparisons) {
      const L = c.levels.length;
      m.push([1, ...(c.m ?? [0.8, ...c.levels.slice(1).map(() => 0.15 / L), 0.2 - ((L - 1) * 0.15) / L])]);
      u.push([1, ...(c.u ?? [0.01, ...c.levels.slice(1).map(() => 0.01), 0.99 - 0.01 * (L - 1)])]);
    }
    return { m, u };
  }

  /** An empty index of blocks, which knows each blocking key's rule by its id. */
  blockIndex(): BlockIndex {
    return new BlockIndex(
      this.config.maxBlockSize,
      this.#blockingRules.map((r) => r.id),
    );
  }

  /** The values of every compared field of a profile. */
  features(profile: Comparable): string[][] {
    return this.config.comparisons.map((c) => valuesOf(profile, c.field, this.#blocked));
  }

  /** A profile's compared values and keys, each field's values normalised once for all of them. */
  describe(profile: Comparable): { features: string[][]; linkKeys: LinkKey[]; blockKeys: string[] } {
    const values = new Map<string, string[]>();
    const valuesOfField = (field: string) => {
      let v = values.get(field);
      if (!v) {
        v = valuesOf(profile, field, this.#blocked);
        values.set(field, v);
      }
      return v;
    };
    return {
      features: this.config.comparisons.map((c) => valuesOfField(c.field)),
      linkKeys: this.linkKeys(profile, valuesOfField),
      blockKeys: this.#keys(this.#blockingRules, valuesOfField),
    };
  }

  /**
   * The keys of a profile for each rule: `<rule id>\u0001<value>\u0001<value>…`, one for every
   * combination of the rule's fields' values.
   */
  #keys(rules: readonly Rule[], values: (field: string) => string[]): string[] {
    const out: string[] = [];
    for (const rule of rules) {
      let parts: string[] = [rule.id];
      for (const part of rule.parts) {
        const fieldValues = part.transform(values(part.field));
        if (fieldValues.length === 0) {
          parts = [];
          break;
        }
        if (fieldValues.length === 1) {
          const only = fieldValues[0] as string;
          for (let p = 0; p < parts.length; p++) parts[p] = `${parts[p]}\u0001${only}`;
        } else parts = parts.flatMap((p) => fieldValues.map((v) => `${p}\u0001${v}`));
      }
      for (const part of parts) out.push(part);
    }
    return out;
  }

  #values(profile: Comparable): (field: string) => string[] {
    return (field) => valuesOf(profile, field, this.#blocked);
  }

  /**
   * Compares two records field by field into `into[offset…]` and returns the pattern as a number,
   * 4 bits a field (levels stay below 16; at most 13 fields fit a double exactly).
   */
  compare(a: readonly (readonly string[])[], b: readonly (readonly string[])[], into: Uint8Array, offset: number): number {
    const comparators = this.#comparators;
    for (let c = 0; c < comparators.length; c++) {
      into[offset + c] = (comparators[c] as FieldComparator).level(a[c] as string[], b[c] as string[]);
    }
    if (this.#swaps.length > 0 && this.#swapDue(into, offset)) {
      this.#swap(
        into,
        offset,
        (c) => a[c] as string[],
        (c) => b[c] as string[],
      );
    }
    let pattern = 0;
    for (let c = 0; c < comparators.length; c++) pattern = pattern * 16 + (into[offset + c] as number);
    return pattern;
  }

  /** Per field, a cache of levels by value pair where the field's levels are costly (see `levelOfIds`). */
  levelCaches(): (Map<number, number> | undefined)[] {
    return this.#comparators.map((c) => (c.costly ? new Map() : undefined));
  }

  /** `compare` for records a and b of a feature table. */
  compareInTable(
    table: FeatureTable,
    a: number,
    b: number,
    into: Uint8Array,
    caches: readonly (Map<number, number> | undefined)[],
  ): number {
    const comparators = this.#comparators;
    const { dictionaries, offsets, ids } = table.data;
    for (let c = 0; c < comparators.length; c++) {
      into[c] = levelOfIds(
        comparators[c] as FieldComparator,
        dictionaries[c] as string[],
        offsets[c] as Int32Array,
        ids[c] as Int32Array,
        a,
        b,
        caches[c],
      );
    }
    if (this.#swaps.length > 0 && this.#swapDue(into, 0)) {
      const valuesOfRecord = (r: number) => (c: number) => {
        const o = offsets[c] as Int32Array;
        const list: string[] = [];
        for (let p = o[r] as number; p < (o[r + 1] as number); p++)
          list.push((dictionaries[c] as string[])[(ids[c] as Int32Array)[p] as number] as string);
        return list;
      };
      this.#swap(into, 0, valuesOfRecord(a), valuesOfRecord(b));
    }
    let pattern = 0;
    for (let c = 0; c < comparators.length; c++) pattern = pattern * 16 + (into[c] as number);
    return pattern;
  }

  /** Term frequencies of tf-adjusted fields: how many records hold each value. */
  termFrequencies(table: FeatureTable): (TermFrequencies | undefined)[] {
    return this.config.comparisons.map((c, ci) => (c.tf ? table.valueCounts(ci) : undefined));
  }

  /**
   * The random pairs u is estimated from (indices, two by two): nearly all non-matches, whatever
   * the data. Drawn from a fixed seed, so a run is repeatable however the counting is split.
   */
  uSample(n: number): Int32Array {
    const samples = n < 2 ? 0 : Math.min(this.config.uSamplePairs, (n * (n - 1)) / 2);
    const next = random(42);
    const out = new Int32Array(samples * 2);
    for (let s = 0; s < samples; s++) {
      const i = Math.floor(next() * n);
      let j = Math.floor(next() * (n - 1));
      if (j >= i) j++;
      out[2 * s] = i;
      out[2 * s + 1] = j;
    }
    return out;
  }

  /** Per field, how many of the sampled pairs reach each level. */
  countLevels(table: FeatureTable, sample: Int32Array): Float64Array[] {
    const C = this.config.comparisons.length;
    const counts = this.config.comparisons.map((c) => new Float64Array(c.levels.length + 2));
    const levels = new Uint8Array(C);
    const caches = this.levelCaches();
    for (let s = 0; s < sample.length; s += 2) {
      this.compareInTable(table, sample[s] as number, sample[s + 1] as number, levels, caches);
      for (let c = 0; c < C; c++) {
        const row = counts[c] as Float64Array;
        const l = levels[c] as number;
        row[l] = (row[l] as number) + 1;
      }
    }
    return counts;
  }

  /**
   * u from the level counts of random pairs, blended with the comparison's default u as if it had
   * been seen in `training.priorPairs` pairs (a pinned comparison keeps its default). Without a
   * default, Laplace smoothing: a level never seen among random pairs is rare, not impossible.
   */
  uFromCounts(counts: readonly Float64Array[]): number[][] {
    const priors = this.priors().u;
    const weight = this.config.training.priorPairs;
    return counts.map((row, c) => {
      const comparison = this.config.comparisons[c];
      const prior = priors[c] as number[];
      if (comparison?.pin) return prior;
      const seen = row.reduce((a, b, l) => (l === NULL_LEVEL ? a : a + b), 0);
      // A level never seen among the sampled pairs stays no rarer than the default or what the
      // sample could have seen (one in `seen`), whichever is rarer: blending alone would shrink it
      // with every pair sampled.
      if (comparison?.u && weight > 0)
        return [...row].map((x, l) =>
          l === NULL_LEVEL
            ? 1
            : Math.max((x + weight * (prior[l] as number)) / (seen + weight), Math.min(prior[l] as number, 1 / (seen + row.length - 1))),
        );
      const total = seen + row.length - 1;
      return [...row].map((x, l) => (l === NULL_LEVEL ? 1 : (x + 1) / total));
    });
  }

  /**
   * m blended with the comparisons' defaults by the evidence behind each estimate: EM's expected
   * matched pairs against `training.priorMatches` (a pinned comparison keeps its default).
   */
  blendM(estimated: readonly number[][], evidence: readonly number[]): number[][] {
    const priors = this.priors().m;
    const weight = this.config.training.priorMatches;
    return estimated.map((row, c) => {
      const comparison = this.config.comparisons[c];
      const prior = priors[c] as number[];
      if (comparison?.pin) return prior;
      if (!comparison?.m || weight <= 0) return [...row];
      const e = evidence[c] ?? 0;
      return row.map((x, l) => (l === NULL_LEVEL ? 1 : (e * x + weight * (prior[l] as number)) / (e + weight)));
    });
  }

  /** The log2 Bayes factor of one field's level, before any term-frequency adjustment. */
  fieldWeight(model: Model, c: number, level: number): number {
    if (level === NULL_LEVEL) return 0;
    return Math.log2(((model.m[c] as number[])[level] as number) / ((model.u[c] as number[])[level] as number));
  }

  /**
   * What exact agreement on `value` adds to a tf-adjusted field's weight: u becomes the value's own
   * frequency, so a rare surname counts for more than "smith". A value the model never counted is
   * rare: it occurred once.
   */
  tfAdjustment(model: Model, c: number, value: string): number {
    const tf = model.tf[c];
    if (!tf || tf.total === 0) return 0;
    const u = Math.max((tf.counts.get(value) ?? 1) / tf.total, 1e-7);
    return Math.log2(((model.u[c] as number[])[1] as number) / u);
  }

  /**
   * The comparisons that count towards a pattern's weight, one bit each (bit c for comparison c):
   * all of them, except in a `group` none of whose fields agrees (weighs more than nothing), where
   * only the strongest disagreement counts. Someone who moved differs in street, town and postcode
   * at once: one fact, where summing the three would count it three times.
   */
  counted(model: Model, levels: Uint8Array, offset = 0): number {
    let mask = this.#everyField;
    for (const members of this.#groups) {
      let worst = -1;
      let worstWeight = 0;
      let agrees = false;
      for (const c of members) {
        const w = this.fieldWeight(model, c, levels[offset + c] as number);
        if (w > 0) agrees = true;
        else if (w < worstWeight) [worst, worstWeight] = [c, w];
      }
      if (agrees || worst < 0) continue;
      for (const c of members) if (c !== worst) mask &= ~(1 << c);
    }
    return mask;
  }

  /** The weight of a comparison pattern before term-frequency adjustments: the prior plus each counted field's. */
  patternWeight(model: Model, levels: Uint8Array, offset = 0, counted = this.counted(model, levels, offset)): number {
    let weight = Math.log2(model.lambda / (1 - model.lambda));
    for (let c = 0; c < this.config.comparisons.length; c++) {
      if (counted & (1 << c)) weight += this.fieldWeight(model, c, levels[offset + c] as number);
    }
    return weight;
  }

  /** The match weight of a compared pair, term-frequency adjusted where it agrees exactly. */
  weight(model: Model, levels: Uint8Array, offset: number, a: readonly string[][], b: readonly string[][]): number {
    const counted = this.counted(model, levels, offset);
    let weight = this.patternWeight(model, levels, offset, counted);
    for (let c = 0; c < this.config.comparisons.length; c++) {
      if (levels[offset + c] !== 1 || !model.tf[c] || !(counted & (1 << c))) continue;
      const shared = (a[c] as string[]).find((v) => (b[c] as string[]).includes(v));
      if (shared !== undefined) weight += this.tfAdjustment(model, c, shared);
    }
    return weight;
  }

  /** Per field of a table, per value id: `tfAdjustment` of that value (undefined for fields without tf). */
  tfAdjustments(model: Model, table: FeatureTable): (Float64Array | undefined)[] {
    return this.config.comparisons.map((_, c) => {
      if (!model.tf[c]) return undefined;
      const dictionary = table.data.dictionaries[c] as string[];
      return Float64Array.from(dictionary, (value) => this.tfAdjustment(model, c, value));
    });
  }

  /** Compares two records' features and weighs the result; a pair that breaks a `cannotLink` rule weighs `CANNOT_LINK_WEIGHT`. */
  score(model: Model, a: readonly string[][], b: readonly string[][]): Score {
    const levels = new Uint8Array(this.config.comparisons.length);
    this.compare(a as string[][], b as string[][], levels, 0);
    const cannotLink = this.cannotLink(model, levels);
    if (cannotLink) return { levels, weight: CANNOT_LINK_WEIGHT, probability: 0, cannotLink };
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

  /** The keys a profile is blocked on. */
  blockingKeys(profile: Comparable): string[] {
    return this.#keys(this.#blockingRules, this.#values(profile));
  }

  /** Candidate pairs of records sharing a blocking key (see `BlockIndex`); `blockKeys[i]` are record i's keys. */
  candidatePairs(blockKeys: readonly (readonly string[])[]): { pairs: Float64Array; rulesOf: Uint32Array } {
    const index = this.blockIndex();
    for (const keys of blockKeys) index.add(keys);
    return index.pairs();
  }

  /**
   * Estimates the model from candidate pairs already compared: u from random pairs, m by EM in one
   * session per blocking rule, λ from the candidates, term frequencies from the table.
   */
  estimate(
    table: FeatureTable,
    counts: PatternCounts,
    u = this.uFromCounts(this.countLevels(table, this.uSample(table.records))),
  ): { model: Model; patterns: Uint8Array[]; expectedMatches: number } {
    const n = table.records;
    const patterns = counts.patterns.map((p) => decodePattern(p, this.config.comparisons.length));
    const sessions = counts.byRule.map((row) => patterns.flatMap((levels, i) => (row[i] ? [{ levels, count: row[i] as number }] : [])));
    const estimated = estimateMBySession(this.config, sessions, u);
    const m = this.blendM(estimated.m, estimated.evidence);
    // The Bayes factors use u of random pairs, so the prior is that of a random pair: the expected
    // number of matches among candidates (whose m and u are now fixed) over all possible pairs.
    // Pairs that break a cannotLink rule (relatives sharing a mailbox and an address) are two
    // people whatever their agreement says: counted as matches they would inflate the prior.
    const model: Model = { lambda: 0, m, u, tf: this.termFrequencies(table), disagreement: this.disagreement(patterns, counts.overall) };
    const all = patterns.map((levels, i) => ({
      levels,
      count: counts.overall[i] as number,
      apart: this.cannotLink(model, levels) !== undefined,
    }));
    const { lambda: candidateLambda } = estimateLambda(all, m, u);
    const expectedMatches = candidateLambda * counts.patternOf.length;
    model.lambda = Math.min(Math.max(expectedMatches / ((n * (n - 1)) / 2 || 1), 1e-12), 0.5);
    return { model, patterns, expectedMatches };
  }

  /** Estimates a model from unlabelled profiles (the live hub's training; see `estimate`). */
  train(profiles: readonly Comparable[], progress: Progress = () => {}): { model: Model; pairs: number; expectedMatches: number } {
    const table = FeatureTableBuilder.from(
      profiles.map((p) => this.features(p)),
      this.config.comparisons.length,
    );
    const { pairs, rulesOf } = this.candidatePairs(profiles.map((p) => this.blockingKeys(p)));
    const counts = comparePairs(this, table, pairs, rulesOf, progress);
    const { model, expectedMatches } = this.estimate(table, counts);
    return { model, pairs: pairs.length, expectedMatches };
  }

  /**
   * The keys that link records outright, each with the rule it stands for: the deterministic rules'
   * keys, and external ids (one system's id is one person).
   */
  linkKeys(profile: Comparable, values = this.#values(profile)): LinkKey[] {
    const out = this.#keys(this.#deterministicRules, values).map((key) => ({
      key: `d${key}`,
      rule: this.#deterministicNames.get(key.slice(0, key.indexOf('\u0001'))) ?? '',
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
