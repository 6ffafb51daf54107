import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';

/** Given names that can stand for one another (Bob and Robert, Peggy and Margaret). */
export class Nicknames {
  readonly #groups = new Map<string, Set<number>>();

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

  related(a: string, b: string): boolean {
    const x = this.#groups.get(a);
    const y = this.#groups.get(b);
    if (!x || !y) return false;
    for (const g of x) if (y.has(g)) return true;
    return false;
  }

  static load(file: string = path.join(import.meta.dirname, 'nicknames.csv')): Nicknames {
    const rows = parse(readFileSync(file, 'utf8'), { relaxColumnCount: true, skipEmptyLines: true, trim: true }) as string[][];
    return new Nicknames(rows.filter((r) => r[0] !== 'name'));
  }
}
