/**
 * The worker threads of `aurum resolve`. Mapping (JSONata) and comparing pairs are nearly all of a
 * batch's CPU time and both split cleanly: records are mapped in chunks, in parallel, and come back
 * as feature values and keys; the candidate pairs are compared in as many slices as there are
 * threads. The main thread reads the input, blocks and clusters.
 */
import { Worker } from 'node:worker_threads';
import type { QuarantineCode } from '../mapping/apply.ts';
import type { BlockIndex } from '../resolution/probabilistic/block-index.ts';
import { mergePatternCounts, type PatternCounts } from '../resolution/probabilistic/compare-pairs.ts';
import type { LinkKey } from '../resolution/probabilistic/engine.ts';
import type { FeatureTable, FeatureTableBuilder, FeatureTableData } from '../resolution/probabilistic/feature-table.ts';

export type ThreadRequest =
  | { type: 'map'; seq: number; source: string; firstRawId: number; receivedAt: string; payloads: unknown[] }
  | { type: 'table'; data: FeatureTableData }
  | { type: 'compare'; seq: number; pairs: Float64Array; rulesOf: Uint32Array }
  | { type: 'count-levels'; seq: number; sample: Int32Array };

/**
 * A chunk's mapped records, described for the engine and packed: every string end to end in `text`,
 * with `lengths` to cut it apart. One string and two typed arrays cross between threads far faster
 * than a hundred thousand small arrays and objects, and the main thread has little else to spare.
 */
export interface MappedChunk {
  seq: number;
  /** Set when a payload given as JSON text does not parse: its index in the chunk. */
  invalidJson?: number;
  records: number;
  text: string;
  lengths: Uint32Array;
  /**
   * Per record, in order: how many values each compared field has, how many blocking keys and how
   * many link keys. The strings follow the same order: the record id, the values, the blocking keys,
   * then each link key and its rule.
   */
  counts: Uint32Array;
  failures: { rawId: number; mappingFile: string | null; code: QuarantineCode; message: string }[];
}

/** Packs described records (see `MappedChunk`). */
export class ChunkPacker {
  readonly #strings: string[] = [];
  readonly #counts: number[] = [];
  #records = 0;

  add(recordId: string, described: { features: string[][]; blockKeys: string[]; linkKeys: LinkKey[] }): void {
    this.#records++;
    this.#strings.push(recordId);
    for (const values of described.features) {
      this.#counts.push(values.length);
      for (const v of values) this.#strings.push(v);
    }
    this.#counts.push(described.blockKeys.length, described.linkKeys.length);
    for (const key of described.blockKeys) this.#strings.push(key);
    for (const { key, rule } of described.linkKeys) this.#strings.push(key, rule);
  }

  pack(seq: number, failures: MappedChunk['failures']): MappedChunk {
    return {
      seq,
      records: this.#records,
      text: this.#strings.join(''),
      lengths: Uint32Array.from(this.#strings, (s) => s.length),
      counts: Uint32Array.from(this.#counts),
      failures,
    };
  }
}

/** Unpacks a chunk record by record, into the batch's table, block index and link keys. */
export function unpackChunk(
  chunk: MappedChunk,
  fields: number,
  into: { recordIds: string[]; table: FeatureTableBuilder; blocks: BlockIndex; linkKeys: LinkKey[][] },
): void {
  const { text, lengths, counts } = chunk;
  let at = 0;
  let s = 0;
  let k = 0;
  const next = () => {
    const length = lengths[s++] as number;
    const value = text.slice(at, at + length);
    at += length;
    return value;
  };
  for (let r = 0; r < chunk.records; r++) {
    into.recordIds.push(next());
    for (let c = 0; c < fields; c++) {
      for (let v = counts[k++] as number; v > 0; v--) into.table.addValue(c, next());
    }
    into.table.endRecord();
    const blockKeys = counts[k++] as number;
    const linkKeys = counts[k++] as number;
    for (let b = 0; b < blockKeys; b++) into.blocks.addKey(next());
    into.blocks.endRecord();
    const keys: LinkKey[] = [];
    for (let l = 0; l < linkKeys; l++) keys.push({ key: next(), rule: next() });
    into.linkKeys.push(keys);
  }
}

type Reply = MappedChunk | { seq: number; counts: PatternCounts } | { seq: number; levelCounts: Float64Array[] };

export class ResolvePool {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #next = 0;
  #failed: Error | undefined;
  #closing = false;
  #table: FeatureTable | undefined;

  constructor(options: { threads: number; configDir: string; defaultRegion: string | undefined }) {
    this.#workers = Array.from({ length: Math.max(1, options.threads) }, () => {
      const worker = new Worker(new URL('./resolve-thread.ts', import.meta.url), {
        // Mapping allocates many short-lived objects: a larger young generation means fewer scavenges
        // (measured: 15 % less time mapping than the default).
        resourceLimits: { maxYoungGenerationSizeMb: 64 },
        workerData: { configDir: options.configDir, defaultRegion: options.defaultRegion },
      });
      worker.on('message', (reply: Reply) => {
        const waiter = this.#waiting.get(reply.seq);
        this.#waiting.delete(reply.seq);
        waiter?.resolve(reply);
      });
      worker.on('error', (e) => this.#fail(e));
      worker.on('exit', (code) => {
        if (code !== 0 && !this.#closing) this.#fail(new Error(`a resolve thread exited with code ${code}`));
      });
      return worker;
    });
  }

  get threads(): number {
    return this.#workers.length;
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    for (const waiter of this.#waiting.values()) waiter.reject(e);
    this.#waiting.clear();
  }

  #ask<T extends Reply>(worker: Worker, request: ThreadRequest & { seq: number }, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(request.seq, { resolve: resolve as (reply: Reply) => void, reject });
      worker.postMessage(request, transfer);
    });
  }

  /**
   * Maps a chunk of one source's records (raw ids from `firstRawId`) on the next thread in turn. A
   * payload given as a string is JSON text, parsed there.
   */
  map(source: string, payloads: unknown[], firstRawId: number, receivedAt: Date): Promise<MappedChunk> {
    const worker = this.#workers[this.#next++ % this.#workers.length] as Worker;
    return this.#ask<MappedChunk>(worker, {
      type: 'map',
      seq: this.#seq++,
      source,
      firstRawId,
      receivedAt: receivedAt.toISOString(),
      payloads,
    });
  }

  /** Sends the feature table to every thread, once. */
  #share(table: FeatureTable): void {
    if (this.#table === table) return;
    this.#table = table;
    for (const worker of this.#workers) worker.postMessage({ type: 'table', data: table.data } satisfies ThreadRequest);
  }

  /** Slices [from, to) of `length` items, one per thread, each a multiple of `step` long. */
  #slices(length: number, step: number): [number, number][] {
    const share = Math.ceil(length / step / this.#workers.length) * step;
    return this.#workers.map((_, i) => [Math.min(i * share, length), Math.min((i + 1) * share, length)]);
  }

  /** Compares candidate pairs of `table`'s records, a slice per thread; counts as one run would give them. */
  async compare(table: FeatureTable, pairs: Float64Array, rulesOf: Uint32Array, rules: number): Promise<PatternCounts> {
    this.#share(table);
    const parts = await Promise.all(
      this.#slices(pairs.length, 1).map(([from, to], i) => {
        // Copies of the slices, transferred: posting a view would copy its whole buffer.
        const slice = pairs.slice(from, to);
        const rulesSlice = rulesOf.slice(from, to);
        return this.#ask<{ seq: number; counts: PatternCounts }>(
          this.#workers[i] as Worker,
          { type: 'compare', seq: this.#seq++, pairs: slice, rulesOf: rulesSlice },
          [slice.buffer, rulesSlice.buffer],
        );
      }),
    );
    return mergePatternCounts(
      parts.map((p) => p.counts),
      rules,
    );
  }

  /** `Engine.countLevels` over the sampled pairs, a slice per thread, summed. */
  async countLevels(table: FeatureTable, sample: Int32Array): Promise<Float64Array[]> {
    this.#share(table);
    const parts = await Promise.all(
      this.#slices(sample.length, 2).map(([from, to], i) => {
        const slice = sample.slice(from, to);
        return this.#ask<{ seq: number; levelCounts: Float64Array[] }>(
          this.#workers[i] as Worker,
          { type: 'count-levels', seq: this.#seq++, sample: slice },
          [slice.buffer],
        );
      }),
    );
    const [first, ...rest] = parts.map((p) => p.levelCounts);
    if (!first) return [];
    for (const counts of rest) {
      for (const [c, row] of counts.entries()) {
        const sum = first[c] as Float64Array;
        for (let l = 0; l < row.length; l++) sum[l] = (sum[l] as number) + (row[l] as number);
      }
    }
    return first;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
