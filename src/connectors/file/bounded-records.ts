/**
 * Splits a streamed file into its records (NDJSON lines, or CSV records, whose quoted fields may
 * hold newlines) without ever holding more than `maxBytes` of one record. readline held a whole
 * line as one string: one 560 MB line was a `RangeError: Invalid string length` that killed the hub.
 * Here a longer record is skipped to its end and reported; the records after it go on.
 */
export type Piece =
  /** `bytes` is the record as received, without its line end. */
  | { kind: 'record'; line: number; bytes: Buffer }
  | { kind: 'too_large'; line: number; bytes: number }
  /** CSV only: the file ended inside a quoted field opened on `line`; what follows it could not be split. */
  | { kind: 'unclosed_quote'; line: number; bytes: number };

export interface SplitOptions {
  maxBytes: number;
  /** CSV: a newline inside double quotes belongs to the field. */
  quotes: boolean;
  /** Called with each chunk's size as it arrives. */
  onBytes?: (n: number) => void;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** Yields the pieces of each chunk together: one await per chunk, not per record, halves the cost of a small record. */
export async function* splitRecords(body: AsyncIterable<Uint8Array>, options: SplitOptions): AsyncGenerator<Piece[]> {
  let parts: Buffer[] = [];
  let size = 0;
  /** Over the limit: bytes counted, none kept, until the record ends. */
  let skipping = false;
  let inQuote = false;
  let newlines = 0;
  let startLine = 1;

  /** Adds `chunk[start, end)` to the record. A copy: a short record must not keep a whole chunk alive. */
  const append = (chunk: Uint8Array, start: number, end: number) => {
    const length = end - start;
    if (length === 0) return;
    if (!skipping && size + length > options.maxBytes) {
      skipping = true;
      parts = [];
    }
    if (!skipping) parts.push(Buffer.from(chunk.subarray(start, end)));
    size += length;
  };
  const take = (): Piece | undefined => {
    const line = startLine;
    const total = size;
    const over = skipping;
    const kept = parts;
    parts = [];
    size = 0;
    skipping = false;
    startLine = newlines + 1;
    if (over) return { kind: 'too_large', line, bytes: total };
    if (total === 0) return undefined;
    let bytes = kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept, total);
    if (bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    return { kind: 'record', line, bytes };
  };

  for await (const chunk of body) {
    options.onBytes?.(chunk.length);
    const pieces: Piece[] = [];
    let from = 0;
    let scan = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, scan);
      if (options.quotes) {
        // Each quote before the newline opens or closes a quoted field; an escaped "" does both.
        let q = chunk.indexOf(QUOTE, scan);
        while (q !== -1 && (lf === -1 || q < lf)) {
          inQuote = !inQuote;
          q = chunk.indexOf(QUOTE, q + 1);
        }
      }
      if (lf === -1) {
        append(chunk, from, chunk.length);
        break;
      }
      newlines++;
      scan = lf + 1;
      if (inQuote) continue;
      append(chunk, from, lf);
      from = scan;
      const piece = take();
      if (piece) pieces.push(piece);
    }
    if (pieces.length > 0) yield pieces;
  }
  if (inQuote) {
    yield [{ kind: 'unclosed_quote', line: startLine, bytes: size }];
    return;
  }
  const last = take();
  if (last) yield [last];
}
