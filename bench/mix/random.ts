/** A seeded random stream (mulberry32): the same seed gives the same people on every machine. */
export interface Random {
  rand(): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
  /** A whole number from `min` to `max`, both included. */
  int(min: number, max: number): number;
}

export function seeded(seed: number): Random {
  let state = seed >>> 0;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    rand,
    pick: <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T,
    chance: (p: number) => rand() < p,
    int: (min: number, max: number) => min + Math.floor(rand() * (max - min + 1)),
  };
}

/** A typo as clerks make them: a letter dropped, two swapped, or one replaced (never the first). */
export function typoWith(r: Random): (s: string) => string {
  return (s) => {
    if (s.length < 3) return s;
    const i = 1 + Math.floor(r.rand() * (s.length - 2));
    const kind = r.rand();
    if (kind < 0.33) return s.slice(0, i) + s.slice(i + 1);
    if (kind < 0.66) return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
    return s.slice(0, i) + r.pick([...'abcdefghijklmnopqrstuvwxyz']) + s.slice(i + 1);
  };
}
