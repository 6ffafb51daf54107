import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jaroWinkler } from '@skyra/jaro-winkler';
import { parse } from 'csv-parse/sync';

/** Given names that can stand for one another (Bob and Robert, Peggy and Margaret). */
export class Nicknames {
  readonly #groups = new Map<string, Set<number>>();
  /** Groups of names not in the list, through the listed names a typo away (see `#groupsOf`). */
  readonly #near = new Map<string, Set<number> | undefined>();

  /** Rows of `name,nickname,nickname…`: each row is a group; a name may be in several. */
  constructor(rows: readonly string[][]) {
    rows.forEach((row, group) => {
      for (const raw of row) {
        const name = raw.trim().toLowerCase();
        if (!name) continue;
        const groups = this.#groups.get(name) ?? new Set<number>();
        groups.add(group);
        this.#groups.set(name, groups);
      }
    });
  }

  /**
   * A name's groups; for a name not in the list, those of the listed names a typo away
   * (Jaro–Winkler ≥ 0.92), so "Mararet" still stands for Peggy. Remembered per name.
   */
  #groupsOf(name: string): Set<number> | undefined {
    const listed = this.#groups.get(name);
    if (listed || name.length < 4) return listed;
    if (this.#near.has(name)) return this.#near.get(name);
    let near: Set<number> | undefined;
    for (const [other, groups] of this.#groups) {
      if (other.length < 4 || jaroWinkler(name, other) < 0.92) continue;
      near ??= new Set();
      for (const g of groups) near.add(g);
    }
    if (this.#near.size > 100_000) this.#near.clear();
    this.#near.set(name, near);
    return near;
  }

  related(a: string, b: string): boolean {
    const x = this.#groupsOf(a);
    const y = this.#groupsOf(b);
    if (!x || !y) return false;
    for (const g of x) if (y.has(g)) return true;
    return false;
  }

  static load(file: string = path.join(import.meta.dirname, 'nicknames.csv')): Nicknames {
    const rows = parse(readFileSync(file, 'utf8'), { relaxColumnCount: true, skipEmptyLines: true, trim: true }) as string[][];
    return new Nicknames(rows.filter((r) => r[0] !== 'name'));
  }
}
