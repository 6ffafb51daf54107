/**
 * What a record must be to be stored: JSON no deeper than `maxJsonDepth`, no larger than
 * `maxRecordBytes`, and text PostgreSQL's `jsonb` can hold. Checked at every door (webhooks, each
 * import line or row) before a record joins a transaction, so one bad record is refused alone.
 */
export interface RecordLimits {
  maxRecordBytes: number;
  maxJsonDepth: number;
}

export const RECORD_REFUSALS = {
  json_too_deep: 'the JSON nests arrays and objects deeper than AURUM_MAX_JSON_DEPTH',
  record_too_large: 'a record is larger than AURUM_MAX_RECORD_BYTES',
  malformed_json: 'not valid JSON',
} as const;
export type RecordRefusal = keyof typeof RECORD_REFUSALS;

export type Checked<T> = { ok: true; value: T; replaced: boolean } | { ok: false; code: RecordRefusal; message: string };

/**
 * `\u0000` and lone surrogates are valid JSON that `jsonb` refuses ("unsupported Unicode escape
 * sequence"). Both only arrive escaped: raw control characters are not JSON, and strict UTF-8
 * decoding refuses an encoded surrogate. So text without such an escape needs no walk.
 */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Whether JSON text (as JSON.stringify or a sender wrote it) holds an escape jsonb refuses. */
export const hasUnstorableEscape = (json: string): boolean => json.includes('\\u') && UNSTORABLE_ESCAPE.test(json);

function storable(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replaceAll('\u0000', '\uFFFD') : wellFormed;
}

/** Replaces what `jsonb` cannot hold with U+FFFD, in keys and values; `replaced` says whether any was. */
export function toStorable(value: unknown): { value: unknown; replaced: boolean } {
  let replaced = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const s = storable(v);
      if (s !== v) replaced = true;
      return s;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[walk(k) as string] = walk(item);
      return out;
    }
    return v;
  };
  const result = walk(value);
  return { value: replaced ? result : value, replaced };
}

/**
 * The deepest nesting in JSON text, by a scan that skips strings: JSON.parse itself takes thousands
 * of levels, but what comes after it (canonical hashing, `jsonb`, JSONata) recurses and fails.
 * Stops counting at `limit + 1`.
 */
export function jsonTextDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

function valueDepth(value: unknown, limit: number, depth = 0): number {
  if (value === null || typeof value !== 'object') return depth;
  if (depth + 1 > limit) return depth + 1;
  let deepest = depth + 1;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, valueDepth(item, limit, depth + 1));
    if (deepest > limit) break;
  }
  return deepest;
}

const tooDeep = (limits: RecordLimits): Checked<never> => ({
  ok: false,
  code: 'json_too_deep',
  message: `${RECORD_REFUSALS.json_too_deep} (${limits.maxJsonDepth})`,
});
const tooLarge = (limits: RecordLimits, bytes: number): Checked<never> => ({
  ok: false,
  code: 'record_too_large',
  message: `${RECORD_REFUSALS.record_too_large} (${bytes} > ${limits.maxRecordBytes} bytes)`,
});

/**
 * Parses JSON text whose size is already bounded (a body under AURUM_MAX_BODY, an import line under
 * AURUM_MAX_RECORD_BYTES), refusing depth before parsing and making the result storable (unless the
 * caller leaves that to `insertRawRecords`, which does it per record).
 */
export function parseJsonWithin(text: string, limits: RecordLimits, { storable = true } = {}): Checked<unknown> {
  if (jsonTextDepth(text, limits.maxJsonDepth) > limits.maxJsonDepth) return tooDeep(limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'malformed_json', message: RECORD_REFUSALS.malformed_json };
  }
  if (!storable || !hasUnstorableEscape(text)) return { ok: true, value, replaced: false };
  return { ok: true, ...toStorable(value) };
}

/**
 * Checks a record already parsed (one item of a webhook body, a CSV row, a vendor's form fields).
 * `bytes` is its size when known (the whole body was this one record); otherwise it is measured.
 */
export function checkRecord(record: unknown, limits: RecordLimits, bytes?: number, { storable = true } = {}): Checked<unknown> {
  if (valueDepth(record, limits.maxJsonDepth) > limits.maxJsonDepth) return tooDeep(limits);
  const size = bytes ?? Buffer.byteLength(JSON.stringify(record) ?? '');
  if (size > limits.maxRecordBytes) return tooLarge(limits, size);
  return storable ? { ok: true, ...toStorable(record) } : { ok: true, value: record, replaced: false };
}
