import { jaroWinkler } from '@skyra/jaro-winkler';
import { distance } from 'fastest-levenshtein';
import type { Level } from './config.ts';
import { metaphone } from './features.ts';
import type { Nicknames } from './nicknames.ts';

export const NULL_LEVEL = 0;

/** Describes a level for explanations: `exact`, `jaroWinkler>=0.92`, `else`, `null`. */
export function describeLevel(levels: readonly Level[], level: number): string {
  if (level === NULL_LEVEL) return 'null';
  const spec = levels[level - 1];
  if (!spec) return 'else';
  const [name, value] = Object.entries(spec)[0] as [string, unknown];
  if (value === true) return name;
  return name === 'jaroWinkler' ? `jaroWinkler>=${value}` : `${name}<=${value}`;
}

/** Metrics of one value pair, computed at most once however many levels ask for them. */
interface Memo {
  jw: number;
  lev: number;
}

function holds(level: Level, a: string, b: string, nicknames: Nicknames, memo: Memo): boolean {
  if ('exact' in level) return a === b;
  if ('jaroWinkler' in level) {
    if (memo.jw < 0) memo.jw = jaroWinkler(a, b);
    return memo.jw >= level.jaroWinkler;
  }
  if ('levenshtein' in level) {
    if (Math.abs(a.length - b.length) > level.levenshtein) return false;
    if (memo.lev < 0) memo.lev = distance(a, b);
    return memo.lev <= level.levenshtein;
  }
  if ('metaphone' in level) {
    const x = metaphone(a);
    const y = metaphone(b);
    return x.some((c) => c !== '' && y.includes(c));
  }
  if ('nickname' in level) return nicknames.related(a, b);
  if ('dateTransposed' in level) {
    return (
      a.length === 8 &&
      b.length === 8 &&
      a.slice(0, 4) === b.slice(0, 4) &&
      a.slice(4, 6) === b.slice(6, 8) &&
      a.slice(6, 8) === b.slice(4, 6)
    );
  }
  if ('numericDistance' in level) {
    const x = Number(a);
    const y = Number(b);
    return Number.isFinite(x) && Number.isFinite(y) && a !== '' && b !== '' && Math.abs(x - y) <= level.numericDistance;
  }
  if ('sameYear' in level) return a.length >= 4 && a.slice(0, 4) === b.slice(0, 4);
  return false;
}

/**
 * The level two records reach on a field: 0 when either lacks it, i+1 for the first level that
 * holds for some pair of their values, levels.length+1 when none does.
 */
export function levelOf(levels: readonly Level[], a: readonly string[], b: readonly string[], nicknames: Nicknames): number {
  if (a.length === 0 || b.length === 0) return NULL_LEVEL;
  if (a.length === 1 && b.length === 1) {
    const x = a[0] as string;
    const y = b[0] as string;
    const memo = { jw: -1, lev: -1 };
    for (let i = 0; i < levels.length; i++) if (holds(levels[i] as Level, x, y, nicknames, memo)) return i + 1;
    return levels.length + 1;
  }
  const memos = a.map(() => b.map(() => ({ jw: -1, lev: -1 })));
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as Level;
    for (let p = 0; p < a.length; p++) {
      for (let q = 0; q < b.length; q++) {
        if (holds(level, a[p] as string, b[q] as string, nicknames, (memos[p] as Memo[])[q] as Memo)) return i + 1;
      }
    }
  }
  return levels.length + 1;
}
