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
  if (name === 'swappedWith') return `swappedWith ${value}`;
  return name === 'jaroWinkler' ? `jaroWinkler>=${value}` : `${name}<=${value}`;
}

const KIND = {
  exact: 0,
  jaroWinkler: 1,
  levenshtein: 2,
  metaphone: 3,
  nickname: 4,
  dateTransposed: 5,
  numericDistance: 6,
  sameYear: 7,
  initial: 8,
  // Holds across two fields, so the engine tests it (see `FieldComparator.swappedAt`); never here.
  swappedWith: 9,
} as const;

function isInitial(a: string, b: string): boolean {
  return (a.length === 1 && b.length > 1 && b[0] === a) || (b.length === 1 && a.length > 1 && a[0] === b);
}

function sharesCode(a: string, b: string): boolean {
  const x = metaphone(a);
  const y = metaphone(b);
  for (const c of x) if (c !== '' && y.includes(c)) return true;
  return false;
}

function transposed(a: string, b: string): boolean {
  return (
    a.length === 8 &&
    b.length === 8 &&
    a.slice(0, 4) === b.slice(0, 4) &&
    a.slice(4, 6) === b.slice(6, 8) &&
    a.slice(6, 8) === b.slice(4, 6)
  );
}

function numericallyNear(a: string, b: string, within: number): boolean {
  if (a === '' || b === '') return false;
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= within;
}

/**
 * One field's levels, compiled once: this runs for every candidate pair (millions in a batch), so
 * levels are integer kinds in a switch, and Jaro–Winkler and Levenshtein are computed at most once
 * per value pair however many levels ask for them.
 */
export class FieldComparator {
  readonly #kinds: Uint8Array;
  readonly #params: Float64Array;
  readonly #nicknames: Nicknames;
  /** The level reached when no level holds. */
  readonly none: number;
  /** Whether identical values reach level 1 whatever they are (the first level is `exact`). */
  readonly exactFirst: boolean;
  /**
   * Whether a level costs more than a cache lookup (Jaro–Winkler, phonetics, nicknames), so it pays to
   * remember it per value pair. Levenshtein on short values (dates, postcodes) is cheaper than the lookup.
   */
  readonly costly: boolean;
  /** The level (1-based) of a `swappedWith` level and the field it names, when the field has one. */
  readonly swapped: { level: number; field: string } | undefined;

  constructor(levels: readonly Level[], nicknames: Nicknames) {
    this.#kinds = new Uint8Array(levels.length);
    this.#params = new Float64Array(levels.length);
    levels.forEach((level, i) => {
      const [name, value] = Object.entries(level)[0] as [keyof typeof KIND, unknown];
      this.#kinds[i] = KIND[name];
      this.#params[i] = typeof value === 'number' ? value : 0;
    });
    this.#nicknames = nicknames;
    this.none = levels.length + 1;
    this.exactFirst = this.#kinds[0] === KIND.exact;
    const swapAt = levels.findIndex((l) => 'swappedWith' in l);
    const swapLevel = levels[swapAt];
    this.swapped = swapLevel && 'swappedWith' in swapLevel ? { level: swapAt + 1, field: swapLevel.swappedWith } : undefined;
    this.costly = [...this.#kinds].some(
      (k) => k === KIND.jaroWinkler || k === KIND.levenshtein || k === KIND.metaphone || k === KIND.nickname,
    );
  }

  /** The first level (1-based) that holds for the pair, else `none`. */
  single(a: string, b: string): number {
    let jw = -1;
    let lev = -1;
    const kinds = this.#kinds;
    for (let i = 0; i < kinds.length; i++) {
      const param = this.#params[i] as number;
      let holds: boolean;
      switch (kinds[i]) {
        case KIND.exact:
          holds = a === b;
          break;
        case KIND.jaroWinkler:
          if (jw < 0) jw = jaroWinkler(a, b);
          holds = jw >= param;
          break;
        case KIND.levenshtein:
          if (Math.abs(a.length - b.length) > param) holds = false;
          else {
            if (lev < 0) lev = distance(a, b);
            holds = lev <= param;
          }
          break;
        case KIND.metaphone:
          holds = sharesCode(a, b);
          break;
        case KIND.nickname:
          holds = this.#nicknames.related(a, b);
          break;
        case KIND.dateTransposed:
          holds = transposed(a, b);
          break;
        case KIND.numericDistance:
          holds = numericallyNear(a, b, param);
          break;
        case KIND.initial:
          holds = isInitial(a, b);
          break;
        case KIND.swappedWith:
          holds = false;
          break;
        default:
          holds = a.length >= 4 && a.slice(0, 4) === b.slice(0, 4);
      }
      if (holds) return i + 1;
    }
    return this.none;
  }

  /**
   * The level two records reach on the field: 0 when either lacks it, else the best level over every
   * pair of their values.
   */
  level(a: readonly string[], b: readonly string[]): number {
    if (a.length === 0 || b.length === 0) return NULL_LEVEL;
    if (a.length === 1 && b.length === 1) return this.single(a[0] as string, b[0] as string);
    let best = this.none;
    for (const x of a) {
      for (const y of b) {
        const level = this.single(x, y);
        if (level < best) {
          best = level;
          if (best === 1) return best;
        }
      }
    }
    return best;
  }
}

/**
 * The level two records of a feature table reach on one field (see `FieldComparator.level`), by
 * value ids. `cache` remembers levels per pair of distinct values: person data repeats names and
 * towns, so most pairs of a batch have been compared before.
 */
export function levelOfIds(
  comparator: FieldComparator,
  dictionary: readonly string[],
  offsets: Int32Array,
  ids: Int32Array,
  a: number,
  b: number,
  cache: Map<number, number> | undefined,
): number {
  const a0 = offsets[a] as number;
  const a1 = offsets[a + 1] as number;
  const b0 = offsets[b] as number;
  const b1 = offsets[b + 1] as number;
  if (a0 === a1 || b0 === b1) return NULL_LEVEL;
  let best = comparator.none;
  for (let p = a0; p < a1; p++) {
    for (let q = b0; q < b1; q++) {
      const x = ids[p] as number;
      const y = ids[q] as number;
      let level: number | undefined;
      if (x === y && comparator.exactFirst) level = 1;
      else if (cache) {
        const key = x < y ? x * dictionary.length + y : y * dictionary.length + x;
        level = cache.get(key);
        if (level === undefined) {
          level = comparator.single(dictionary[x] as string, dictionary[y] as string);
          if (cache.size >= CACHE_LIMIT) cache.clear();
          cache.set(key, level);
        }
      } else level = comparator.single(dictionary[x] as string, dictionary[y] as string);
      if (level < best) {
        best = level;
        if (best === 1) return best;
      }
    }
  }
  return best;
}

/** Value pairs remembered per field before the cache starts over (a Map holds 2^24 at most). */
const CACHE_LIMIT = 4_000_000;

/** The level two value lists reach on a field's levels; see `FieldComparator.level`. */
export function levelOf(levels: readonly Level[], a: readonly string[], b: readonly string[], nicknames: Nicknames): number {
  return new FieldComparator(levels, nicknames).level(a, b);
}
