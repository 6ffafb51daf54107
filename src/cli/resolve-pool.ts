/**
 * The worker threads of `aurum resolve`. Mapping (JSONata) and comparing pairs are nearly all of a
 * batch's CPU time and both split cleanly: records are mapped in chunks, in parallel, and come back
 * as feature values and keys; the candidate pairs are compared in as many slices as there are
 * threads. The main thread reads the input, blocks and clusters.
 */
import { Worker } from 'node:worker_threads';
import type { QuarantineCode } from '../mapping/apply.ts';
import { mergePatternCounts, type PatternCounts } from '../resolution/probabilistic/compare-pairs.ts';
import type { LinkKey } from '../resolution/probabilistic/engine.ts';
import type { FeatureTable, FeatureTableData } from '../resolution/probabilistic/feature-table.ts';

export type ThreadRequest =
  | { type: 'map'; seq: number; source: string; firstRawId: number; receivedAt: string; payloads: unknown[] }
  | { type: 'table'; data: FeatureTableData }
  | { type: 'compare'; seq: number; pairs: Float64Array; rulesOf: Uint32Array }
  | { type: 'count-levels'; seq: number; sample: Int32Array };

/** One mapped record, described for the engine. */
export interface MappedRecord {
  recordId: string;
  features: string[][];
  linkKeys: LinkKey[];
  blockKeys: string[];
}

export interface MappedChunk {
  seq: number;
  records: MappedRecord[];
  failures: { rawId: number; mappingFile: string | null; code: QuarantineCode; message: string }[];
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

  /** Maps a chunk of one source's records (raw ids from `firstRawId`) on the next thread in turn. */
  map(source: string, payloads: unknown[], firstRawId: number, receivedAt: Date): Promise<MappedChunk> {
    const worker = this.#workers[this.#next++ % this.#workers.length] as Worker;
    return this.#ask(worker, { type: 'map', seq: this.#seq++, source, firstRawId, receivedAt: receivedAt.toISOString(), payloads });
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
