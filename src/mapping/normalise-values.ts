import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Keeps plain JSON only: drops blank strings, nulls, functions and non-finite numbers (JSONata can
 * return all of them), and the empty objects and lists they leave behind; trims strings. The copy
 * also sheds JSONata's sequence markers on arrays.
 */
export function pruneBlank(value: unknown): unknown {
  switch (typeof value) {
    case 'string': {
      const trimmed = value.trim();
      return trimmed === '' ? undefined : trimmed;
    }
    case 'number':
      return Number.isFinite(value) ? value : undefined;
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        const items: unknown[] = [];
        for (const item of value) {
          const kept = pruneBlank(item);
          if (kept !== undefined) items.push(kept);
        }
        return items.length > 0 ? items : undefined;
      }
      const out: Record<string, unknown> = {};
      let kept = 0;
      for (const [k, v] of Object.entries(value)) {
        const p = pruneBlank(v);
        if (p === undefined) continue;
        // A key named __proto__ stays a key (and fails the schema, visibly), not the copy's prototype.
        if (k === '__proto__') Object.defineProperty(out, k, { value: p, enumerable: true, writable: true, configurable: true });
        else out[k] = p;
        kept++;
      }
      return kept > 0 ? out : undefined;
    }
    default:
      return undefined;
  }
}

export const asList = (v: unknown): unknown[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
export const unique = <T>(items: T[]): T[] => [...new Set(items)];

/**
 * Phones to E.164 (national numbers read with `defaultRegion`), without duplicates; a number that
 * does not parse is kept as written, and its index in the result listed in `invalid`.
 */
export function normalisePhones(phones: unknown[], defaultRegion: string | undefined): { phones: string[]; invalid: number[] } {
  const unparsed = new Set<string>();
  const normalised = unique(
    phones.map((phone) => {
      const text = typeof phone === 'number' ? String(phone) : phone;
      if (typeof text !== 'string') return text as string;
      const parsed = parsePhoneNumberFromString(text, defaultRegion as CountryCode | undefined);
      if (parsed?.isValid()) return parsed.number;
      unparsed.add(text);
      return text;
    }),
  );
  return { phones: normalised, invalid: normalised.flatMap((phone, i) => (unparsed.has(phone) ? [i] : [])) };
}

/** Ids mapped from numbers (Odoo and Zendesk ids are) become strings, in place. */
export function stringifyIds(ids: unknown): void {
  if (!ids || typeof ids !== 'object' || Array.isArray(ids)) return;
  const map = ids as Record<string, unknown>;
  for (const [system, id] of Object.entries(map)) if (typeof id === 'number') map[system] = String(id);
}
