/**
 * Blocking recall: the share of true pairs that blocking proposed, from the blocks `aurum resolve`
 * wrote (`<clusters>.blocks.ndjson`, see `writeBlocks` in resolve.ts). Only the true pairs found in
 * the blocks are held, never the candidate pairs, so memory follows the truth, not the blocks.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface RuleRecall {
  rule: string;
  /** True pairs the rule proposed. */
  truePairs: number;
  /** True pairs no other rule proposed. */
  alone: number;
  /** Candidate pairs the rule proposed, true or not. */
  candidatePairs: number;
}

export interface BlockingRecall {
  maxBlockSize: number;
  candidatePairs: number;
  /**
   * The true pairs proposed, as `a * rows + b` (rows of the clusters file, a < b), each with the
   * rules that proposed it as a bit set.
   */
  proposed: ReadonlyMap<number, number>;
  rules: RuleRecall[];
}

interface Header {
  records: number;
  maxBlockSize: number;
  rules: string[];
}

interface Trailer {
  candidatePairs: number;
  pairsByRule: number[];
}

/**
 * Reads a blocks file. `entityOfRow[i]` is the true entity of the clusters file's row i as a
 * number, or -1 when the truth file does not have the record.
 */
export async function readBlockingRecall(file: string, entityOfRow: Int32Array): Promise<BlockingRecall> {
  const rows = entityOfRow.length;
  let header: Header | undefined;
  let trailer: Trailer | undefined;
  // Each true pair proposed, with the rules that proposed it as a bit set.
  const rulesOf = new Map<number, number>();
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as number[] | Header | Trailer;
    if (!Array.isArray(parsed)) {
      if ('rules' in parsed) header = parsed;
      else trailer = parsed;
      continue;
    }
    if (!header) throw new Error(`${file}: no header line`);
    const rule = parsed[0] as number;
    for (let x = 1; x < parsed.length; x++) {
      const a = parsed[x] as number;
      const entity = entityOfRow[a] as number;
      if (entity < 0) continue;
      for (let y = x + 1; y < parsed.length; y++) {
        const b = parsed[y] as number;
        if (entityOfRow[b] !== entity) continue;
        const pair = a < b ? a * rows + b : b * rows + a;
        rulesOf.set(pair, (rulesOf.get(pair) ?? 0) | (1 << rule));
      }
    }
  }
  if (!header) throw new Error(`${file}: no header line`);
  if (header.records !== rows) {
    throw new Error(`${file} is of a resolve of ${header.records} records, and the clusters file lists ${rows}: resolve again`);
  }
  if (!trailer) throw new Error(`${file} is incomplete (its resolve did not finish): resolve again`);
  const rules = header.rules.map((rule, r) => ({ rule, truePairs: 0, alone: 0, candidatePairs: trailer.pairsByRule[r] ?? 0 }));
  for (const bits of rulesOf.values()) {
    for (const [r, stats] of rules.entries()) {
      if (((bits >>> r) & 1) === 0) continue;
      stats.truePairs++;
      if (bits === 1 << r) stats.alone++;
    }
  }
  return { maxBlockSize: header.maxBlockSize, candidatePairs: trailer.candidatePairs, proposed: rulesOf, rules };
}
