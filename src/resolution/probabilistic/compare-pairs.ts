import type { Engine, Progress } from './engine.ts';
import type { FeatureTable } from './feature-table.ts';

/**
 * Candidate pairs compared and counted by comparison pattern. EM and λ need only the counts; the
 * weights need each pair's pattern, kept as a 4-byte index rather than a byte per field.
 */
export interface PatternCounts {
  /** Distinct patterns (as `Engine.compare` numbers them), in order of first appearance. */
  patterns: number[];
  /** For each pair compared, the index of its pattern. */
  patternOf: Uint32Array;
  /** Pairs per pattern index. */
  overall: number[];
  /** Per blocking rule, the pairs it proposed per pattern index (a pair proposed by two rules is in both). */
  byRule: number[][];
}

/** Compares `pairs` (coded `a * n + b`) of `table`'s records, with `rulesOf` the rules that proposed each. */
export function comparePairs(
  engine: Engine,
  table: FeatureTable,
  pairs: Float64Array,
  rulesOf: Uint32Array,
  progress: Progress = () => {},
): PatternCounts {
  const n = table.records;
  const R = engine.config.blocking.length;
  const index = new Map<number, number>();
  const patterns: number[] = [];
  const overall: number[] = [];
  const byRule: number[][] = Array.from({ length: R }, () => []);
  const patternOf = new Uint32Array(pairs.length);
  const levels = new Uint8Array(engine.config.comparisons.length);
  const caches = engine.levelCaches();
  for (let k = 0; k < pairs.length; k++) {
    if (k % 50000 === 0) progress('compare', k, pairs.length);
    const code = pairs[k] as number;
    const a = Math.floor(code / n);
    const pattern = engine.compareInTable(table, a, code - a * n, levels, caches);
    let p = index.get(pattern);
    if (p === undefined) {
      p = patterns.length;
      index.set(pattern, p);
      patterns.push(pattern);
      overall.push(0);
      for (const row of byRule) row.push(0);
    }
    patternOf[k] = p;
    overall[p] = (overall[p] as number) + 1;
    const rules = rulesOf[k] as number;
    for (let r = 0; r < R; r++) {
      if (rules & (1 << r)) {
        const row = byRule[r] as number[];
        row[p] = (row[p] as number) + 1;
      }
    }
  }
  progress('compare', pairs.length, pairs.length);
  return { patterns, patternOf, overall, byRule };
}

/** The counts of consecutive slices of the pairs, as if they had been compared in one run. */
export function mergePatternCounts(parts: readonly PatternCounts[], rules: number): PatternCounts {
  const index = new Map<number, number>();
  const merged: PatternCounts = {
    patterns: [],
    patternOf: new Uint32Array(parts.reduce((n, part) => n + part.patternOf.length, 0)),
    overall: [],
    byRule: Array.from({ length: rules }, () => []),
  };
  let offset = 0;
  for (const part of parts) {
    const remap = part.patterns.map((pattern, local) => {
      let p = index.get(pattern);
      if (p === undefined) {
        p = merged.patterns.length;
        index.set(pattern, p);
        merged.patterns.push(pattern);
        merged.overall.push(0);
        for (const row of merged.byRule) row.push(0);
      }
      merged.overall[p] = (merged.overall[p] as number) + (part.overall[local] as number);
      for (let r = 0; r < rules; r++) {
        const row = merged.byRule[r] as number[];
        row[p] = (row[p] as number) + ((part.byRule[r] as number[])[local] as number);
      }
      return p;
    });
    for (let k = 0; k < part.patternOf.length; k++) merged.patternOf[offset + k] = remap[part.patternOf[k] as number] as number;
    offset += part.patternOf.length;
  }
  return merged;
}
