/**
 * Every record's compared values, interned field by field: each distinct value is stored once, and
 * a record holds integer ids. A batch compares millions of pairs, so two records agree exactly when
 * two integers are equal, metrics can be remembered per pair of values, and the whole table crosses
 * to a worker thread as a few typed arrays and one dictionary per field.
 */
export interface FeatureTableData {
  records: number;
  /** Per field, its distinct values. */
  dictionaries: string[][];
  /** Per field, record r's value ids are ids[offsets[r]…offsets[r+1]). */
  offsets: Int32Array[];
  ids: Int32Array[];
}

export class FeatureTable {
  readonly data: FeatureTableData;

  constructor(data: FeatureTableData) {
    this.data = data;
  }

  get records(): number {
    return this.data.records;
  }

  /** Record r's values of field c. */
  values(r: number, c: number): string[] {
    const offsets = this.data.offsets[c] as Int32Array;
    const ids = this.data.ids[c] as Int32Array;
    const dictionary = this.data.dictionaries[c] as string[];
    const out: string[] = [];
    for (let k = offsets[r] as number; k < (offsets[r + 1] as number); k++) out.push(dictionary[ids[k] as number] as string);
    return out;
  }

  /** The first value id of field c that records a and b share, or -1. */
  shared(c: number, a: number, b: number): number {
    const offsets = this.data.offsets[c] as Int32Array;
    const ids = this.data.ids[c] as Int32Array;
    for (let p = offsets[a] as number; p < (offsets[a + 1] as number); p++) {
      for (let q = offsets[b] as number; q < (offsets[b + 1] as number); q++) {
        if (ids[p] === ids[q]) return ids[p] as number;
      }
    }
    return -1;
  }

  /** How many records hold each value of field c. */
  valueCounts(c: number): { counts: Map<string, number>; total: number } {
    const ids = this.data.ids[c] as Int32Array;
    const dictionary = this.data.dictionaries[c] as string[];
    const tally = new Uint32Array(dictionary.length);
    for (const id of ids) tally[id] = (tally[id] as number) + 1;
    const counts = new Map<string, number>();
    tally.forEach((count, id) => {
      if (count > 0) counts.set(dictionary[id] as string, count);
    });
    return { counts, total: ids.length };
  }
}

/** Builds a table record by record, in the order records are added. */
export class FeatureTableBuilder {
  readonly #index: Map<string, number>[];
  readonly #dictionaries: string[][];
  readonly #offsets: number[][];
  readonly #ids: number[][];
  #records = 0;

  constructor(fields: number) {
    this.#index = Array.from({ length: fields }, () => new Map());
    this.#dictionaries = Array.from({ length: fields }, () => []);
    this.#offsets = Array.from({ length: fields }, () => [0]);
    this.#ids = Array.from({ length: fields }, () => []);
  }

  /** Adds one record's values (per field, as `Engine.features` gives them); returns its index. */
  add(features: readonly (readonly string[])[]): number {
    for (let c = 0; c < this.#index.length; c++) {
      for (const value of features[c] ?? []) this.addValue(c, value);
    }
    return this.endRecord();
  }

  /** Adds a value of field c to the record being built (fields in order, values within a field in order). */
  addValue(c: number, value: string): void {
    const index = this.#index[c] as Map<string, number>;
    let id = index.get(value);
    if (id === undefined) {
      id = index.size;
      index.set(value, id);
      (this.#dictionaries[c] as string[]).push(value);
    }
    (this.#ids[c] as number[]).push(id);
  }

  /** Ends the record being built; returns its index. */
  endRecord(): number {
    for (let c = 0; c < this.#index.length; c++) (this.#offsets[c] as number[]).push((this.#ids[c] as number[]).length);
    return this.#records++;
  }

  build(): FeatureTable {
    return new FeatureTable({
      records: this.#records,
      dictionaries: this.#dictionaries,
      offsets: this.#offsets.map((o) => Int32Array.from(o)),
      ids: this.#ids.map((i) => Int32Array.from(i)),
    });
  }

  static from(features: Iterable<readonly (readonly string[])[]>, fields: number): FeatureTable {
    const builder = new FeatureTableBuilder(fields);
    for (const f of features) builder.add(f);
    return builder.build();
  }
}
