/**
 * Records by blocking key, filled record by record (a batch adds them as they are mapped), then
 * turned into candidate pairs: each pair once, with the rules that proposed it as a bit set. A pair
 * is coded as `a * n + b` (a < b).
 */
export class BlockIndex {
  /**
   * Records by key. Most keys are one record's (a rare surname with a date of birth): those hold
   * the record's number itself, and a list is made when a second record shares the key, which
   * spares a million small arrays at a million records.
   */
  readonly #blocks = new Map<string, number | number[]>();
  readonly #maxBlockSize: number;
  readonly #rules: number;
  /** Each blocking rule's position by its id: a pair's code carries the position. */
  readonly #ruleOf: Map<string, number>;
  #records = 0;

  /** `ruleIds`: the blocking rules' ids (`ruleId`), in the order EM sessions number them. */
  constructor(maxBlockSize: number, ruleIds: readonly string[]) {
    this.#maxBlockSize = maxBlockSize;
    this.#rules = ruleIds.length;
    this.#ruleOf = new Map(ruleIds.map((id, i) => [id, i]));
  }

  /** Adds the next record's keys (`Engine.blockingKeys`). */
  add(keys: readonly string[]): void {
    for (const key of keys) this.addKey(key);
    this.endRecord();
  }

  /** Adds a key of the record being added. */
  addKey(key: string): void {
    const i = this.#records;
    const block = this.#blocks.get(key);
    if (block === undefined) this.#blocks.set(key, i);
    else if (typeof block === 'number') {
      if (block !== i) this.#blocks.set(key, [block, i]);
    }
    // One past the limit marks the block as too large; it is skipped below.
    else if (block.length <= this.#maxBlockSize && block[block.length - 1] !== i) block.push(i);
  }

  /** Ends the record being added. */
  endRecord(): void {
    this.#records++;
  }

  /**
   * The blocks that propose pairs (two records or more, none over the limit), each with its rule's
   * position: what `aurum resolve` writes for `aurum evaluate` to measure blocking recall. Read it
   * before `pairs`, which empties the index.
   */
  *proposingBlocks(): Generator<{ rule: number; records: readonly number[] }> {
    for (const [blockKey, block] of this.#blocks) {
      if (typeof block === 'number' || block.length > this.#maxBlockSize) continue;
      const rule = this.#ruleOf.get(blockKey.slice(0, blockKey.indexOf('\u0001')));
      // A key of a rule this configuration no longer has (stored before it changed) proposes nothing.
      if (rule !== undefined) yield { rule, records: block };
    }
  }

  pairs(): { pairs: Float64Array; rulesOf: Uint32Array } {
    const n = this.#records;
    const R = this.#rules;
    // A pair's code carries the rule that proposed it, so EM can run one session per rule.
    let codes = new Float64Array(1 << 16);
    let count = 0;
    for (const { rule, records: block } of this.proposingBlocks()) {
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
    this.#blocks.clear();
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
}
