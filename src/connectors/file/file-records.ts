import { checkRecord, parseJsonWithin, RECORD_REFUSALS, type RecordLimits } from '../../intake/record-limits.ts';
import { type Piece, splitRecords } from './bounded-records.ts';
import { csvFields } from './csv-record.ts';

export type FileFormat = 'csv' | 'ndjson';

/**
 * Why a line or row of a file was refused. Messages are fixed text: a problem is stored with the
 * import and shown to whoever reads it, so it names a code, a line, counts, never a value.
 */
export const IMPORT_PROBLEMS = {
  malformed_json: 'not valid JSON',
  not_an_object: 'not a JSON object',
  json_too_deep: RECORD_REFUSALS.json_too_deep,
  record_too_large: RECORD_REFUSALS.record_too_large,
  csv_column_count: 'the row does not have as many fields as the header',
  csv_malformed_row: 'the row is not valid CSV (a quote inside an unquoted field, or text after a closing quote)',
  csv_malformed_header: 'the header row is not valid CSV, or too large: no row can be read',
  csv_unclosed_quote: 'a quote opened on this line is never closed: the rest of the file cannot be read',
  processing_failed: 'the database refused this record; the others were stored',
  body_interrupted: 'the body stopped arriving before its end',
} as const;
export type ImportProblemCode = keyof typeof IMPORT_PROBLEMS;

/** Problems after which nothing more of the file can be read. */
export const FILE_BREAKS: ReadonlySet<ImportProblemCode> = new Set(['csv_malformed_header', 'csv_unclosed_quote', 'body_interrupted']);

export interface ImportProblem {
  /** The line the record starts on; null when the problem is not one line's. */
  line: number | null;
  code: ImportProblemCode;
  message: string;
  /** `csv_column_count`: the header's field count, and the row's. */
  expected?: number;
  got?: number;
}

export const problem = (line: number | null, code: ImportProblemCode, extra: Partial<ImportProblem> = {}): ImportProblem => ({
  line,
  code,
  message: IMPORT_PROBLEMS[code],
  ...extra,
});

export interface FileRecord {
  line: number;
  record: Record<string, unknown>;
  /** The record's exact bytes, when its stored payload had to differ from them (U+FFFD in place of what jsonb cannot hold). */
  originalBody?: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

/** The text of a record, and whether invalid UTF-8 had to become U+FFFD (the exact bytes are then kept). */
function decode(bytes: Uint8Array): { text: string; replaced: boolean } {
  try {
    return { text: utf8.decode(bytes), replaced: false };
  } catch {
    return { text: lenient.decode(bytes), replaced: true };
  }
}

const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

/**
 * The records of a CSV (header row first) or NDJSON file as they stream in, each checked alone
 * against the record limits. Every line or row that is not a storable record goes to `report`;
 * the ones after it go on, unless the problem is one of `FILE_BREAKS`.
 */
export function fileRecords(
  body: AsyncIterable<Uint8Array>,
  format: FileFormat,
  limits: RecordLimits,
  report: (problem: ImportProblem) => void,
  onBytes?: (n: number) => void,
): AsyncGenerator<FileRecord> {
  const pieces = splitRecords(body, { maxBytes: limits.maxRecordBytes, quotes: format === 'csv', ...(onBytes ? { onBytes } : {}) });
  return format === 'csv' ? csvRecords(pieces, limits, report) : ndjsonRecords(pieces, limits, report);
}

async function* ndjsonRecords(chunks: AsyncIterable<Piece[]>, limits: RecordLimits, report: (p: ImportProblem) => void) {
  let first = true;
  for await (const pieces of chunks)
    for (const piece of pieces) {
      if (piece.kind !== 'record') {
        report(problem(piece.line, 'record_too_large', { message: `${IMPORT_PROBLEMS.record_too_large} (${limits.maxRecordBytes})` }));
        continue;
      }
      const decoded = decode(piece.bytes);
      const text = first ? stripBom(decoded.text) : decoded.text;
      first = false;
      if (text.trim() === '') continue;
      const checked = parseJsonWithin(text, limits);
      if (!checked.ok) {
        report(
          problem(piece.line, checked.code, {
            message: checked.code === 'malformed_json' ? IMPORT_PROBLEMS.malformed_json : checked.message,
          }),
        );
        continue;
      }
      const value = checked.value;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        report(problem(piece.line, 'not_an_object'));
        continue;
      }
      yield {
        line: piece.line,
        record: value as Record<string, unknown>,
        ...(checked.replaced || decoded.replaced ? { originalBody: piece.bytes } : {}),
      };
    }
}

async function* csvRecords(chunks: AsyncIterable<Piece[]>, limits: RecordLimits, report: (p: ImportProblem) => void) {
  let header: string[] | undefined;
  for await (const pieces of chunks)
    for (const piece of pieces) {
      if (piece.kind === 'unclosed_quote') {
        report(problem(piece.line, 'csv_unclosed_quote'));
        return;
      }
      if (piece.kind === 'too_large' && !header) {
        report(problem(piece.line, 'csv_malformed_header'));
        return;
      }
      if (piece.kind === 'too_large') {
        report(problem(piece.line, 'record_too_large', { message: `${IMPORT_PROBLEMS.record_too_large} (${limits.maxRecordBytes})` }));
        continue;
      }
      const decoded = decode(piece.bytes);
      const text = header ? decoded.text : stripBom(decoded.text);
      if (text.trim() === '') continue;
      const fields = csvFields(text);
      if (!header) {
        if (!fields) {
          report(problem(piece.line, 'csv_malformed_header'));
          return;
        }
        header = fields;
        continue;
      }
      if (!fields) {
        report(problem(piece.line, 'csv_malformed_row'));
        continue;
      }
      // A row with more or fewer fields than the header is refused, not stored: its values cannot be
      // told apart from their neighbours' columns (one missing comma shifts an email into `phone`),
      // and a wrong value that reaches identity resolution merges the wrong people. Listed in
      // `problems` by line, it can be fixed and the file sent again: what was stored counts as duplicate.
      if (fields.length !== header.length) {
        report(problem(piece.line, 'csv_column_count', { expected: header.length, got: fields.length }));
        continue;
      }
      const row: Record<string, unknown> = {};
      for (const [i, name] of header.entries()) row[name] = fields[i];
      // The row's bytes are already under the size limit, and a row of strings is one level deep:
      // what is left to check is text jsonb cannot hold (a NUL in a cell).
      const checked = checkRecord(row, limits, piece.bytes.length);
      if (!checked.ok) {
        report(problem(piece.line, checked.code, { message: checked.message }));
        continue;
      }
      yield {
        line: piece.line,
        record: checked.value as Record<string, unknown>,
        ...(checked.replaced || decoded.replaced ? { originalBody: piece.bytes } : {}),
      };
    }
}
