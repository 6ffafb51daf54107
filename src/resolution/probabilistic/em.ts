import type { IdentityConfig } from './config.ts';
import { NULL_LEVEL } from './levels.ts';

/** Candidate pairs counted by comparison pattern. */
type Session = readonly { levels: Uint8Array; count: number }[];

const NONE: ReadonlySet<number> = new Set();

/** P(match | pattern) under m, u and λ, leaving out null levels and `excluded` fields. */
function posterior(levels: Uint8Array, m: number[][], u: number[][], lambda: number, excluded: ReadonlySet<number> = NONE): number {
  let pm = lambda;
  let pu = 1 - lambda;
  for (let c = 0; c < levels.length; c++) {
    const l = levels[c] as number;
    if (l === NULL_LEVEL || excluded.has(c)) continue;
    pm *= (m[c] as number[])[l] as number;
    pu *= (u[c] as number[])[l] as number;
  }
  return pm / (pm + pu);
}

/**
 * m and λ by expectation-maximisation over the candidate pairs, u held fixed (as Splink does).
 * Pairs are aggregated by comparison pattern first, so each iteration costs per distinct pattern.
 */
export function estimateM(
  config: IdentityConfig,
  patterns: Iterable<{ levels: Uint8Array; count: number }>,
  u: number[][],
  excluded: ReadonlySet<number> = new Set(),
): { m: number[][]; lambda: number; evidence: number[] } {
  const comparisons = config.comparisons;
  // Start: the best level is likely among matches, "else" unlikely.
  let m = comparisons.map((c) => {
    const L = c.levels.length;
    const row = [1, ...c.levels.map((_, i) => (i === 0 ? 0.7 : 0.25 / L)), 0.05];
    return row;
  });
  let lambda = 0.1;
  const list = [...patterns];
  let evidence: number[] = comparisons.map(() => 0);
  for (let iter = 0; iter < config.emIterations; iter++) {
    const mSum = comparisons.map((c) => new Float64Array(c.levels.length + 2));
    let matchMass = 0;
    let total = 0;
    for (const { levels, count } of list) {
      const p = posterior(levels, m, u, lambda, excluded);
      matchMass += p * count;
      total += count;
      for (let c = 0; c < levels.length; c++) {
        const row = mSum[c] as Float64Array;
        const l = levels[c] as number;
        row[l] = (row[l] ?? 0) + p * count;
      }
    }
    lambda = Math.min(Math.max(matchMass / total, 1e-6), 1 - 1e-6);
    evidence = mSum.map((row) => row.reduce((a, b, l) => (l === NULL_LEVEL ? a : a + b), 0));
    m = mSum.map((row) => {
      const nonNull = row.reduce((a, b, l) => (l === NULL_LEVEL ? a : a + b), 0);
      return [...row].map((x, l) => (l === NULL_LEVEL ? 1 : Math.max((x + 1e-3) / (nonNull + 1e-3 * row.length), 1e-6)));
    });
  }
  return { m, lambda, evidence };
}

/**
 * Splink's approach: one EM session per blocking rule, on the pairs that rule proposed, leaving
 * out the fields the rule blocked on (they agree by construction, so their m is not estimable
 * there). Each field's m is the average over the sessions that could estimate it.
 */
export function estimateMBySession(config: IdentityConfig, sessions: Session[], u: number[][]): { m: number[][]; evidence: number[] } {
  const comparisons = config.comparisons;
  const sums = comparisons.map((c) => new Float64Array(c.levels.length + 2));
  const counts = new Uint32Array(comparisons.length);
  // Per field, the expected matched pairs (holding the field) its estimates rest on, over the sessions.
  const evidence = comparisons.map(() => 0);
  for (const [r, session] of sessions.entries()) {
    if (session.length === 0) continue;
    const blockedFields = new Set((config.blocking[r] ?? []).map((spec) => spec.split(':')[0]));
    const excluded = new Set(comparisons.flatMap((c, i) => (blockedFields.has(c.field) ? [i] : [])));
    const { m, evidence: behind } = estimateM(config, session, u, excluded);
    for (let c = 0; c < comparisons.length; c++) {
      if (excluded.has(c)) continue;
      counts[c] = (counts[c] as number) + 1;
      evidence[c] = (evidence[c] as number) + (behind[c] as number);
      (m[c] as number[]).forEach((v, l) => {
        (sums[c] as Float64Array)[l] = ((sums[c] as Float64Array)[l] as number) + v;
      });
    }
  }
  const m = sums.map((row, c) => {
    const k = counts[c] as number;
    // A field every rule blocks on is never estimable: fall back to a cautious prior guess.
    if (k === 0)
      return [1, ...(comparisons[c]?.levels ?? []).map((_, i) => (i === 0 ? 0.8 : 0.15 / (comparisons[c]?.levels.length ?? 1))), 0.05];
    return [...row].map((v, l) => (l === NULL_LEVEL ? 1 : v / k));
  });
  // m averages the sessions, and a pair proposed by several rules is in each: so does the evidence.
  return { m, evidence: evidence.map((e, c) => e / Math.max(counts[c] as number, 1)) };
}

/**
 * λ among the candidate pairs (each counted once, by pattern), with m and u held fixed. A pattern
 * marked `apart` (it breaks a cannotLink rule) counts among the pairs, never among the matches.
 */
export function estimateLambda(
  patterns: Iterable<{ levels: Uint8Array; count: number; apart?: boolean }>,
  m: number[][],
  u: number[][],
): { lambda: number } {
  const list = [...patterns];
  let lambda = 0.1;
  for (let iter = 0; iter < 30; iter++) {
    let mass = 0;
    let total = 0;
    for (const { levels, count, apart } of list) {
      if (!apart) mass += posterior(levels, m, u, lambda) * count;
      total += count;
    }
    lambda = Math.min(Math.max(mass / total, 1e-9), 1 - 1e-9);
  }
  return { lambda };
}
