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
        if (p !== undefined) {
          out[k] = p;
          kept++;
        }
      }
      return kept > 0 ? out : undefined;
    }
    default:
      return undefined;
  }
}

export const asList = (v: unknown): unknown[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
export const unique = <T>(items: T[]): T[] => [...new Set(items)];

/** Phones to E.164 (national numbers read with `defaultRegion`); one that does not parse is a problem, named without its digits. */
export function normalisePhones(phones: unknown[], defaultRegion: string | undefined, problems: string[]): string[] {
  return unique(
    phones.map((phone, i) => {
      const text = typeof phone === 'number' ? String(phone) : phone;
      if (typeof text !== 'string') return text as string;
      const parsed = parsePhoneNumberFromString(text, defaultRegion as CountryCode | undefined);
      if (parsed?.isValid()) return parsed.number;
      problems.push(
        `phones/${i}: "${redact(text)}" is not a valid phone number${defaultRegion ? '' : ' (no country code and AURUM_DEFAULT_REGION is not set)'}`,
      );
      return text;
    }),
  );
}

/** Ids mapped from numbers (Odoo and Zendesk ids are) become strings, in place. */
export function stringifyIds(ids: unknown): void {
  if (!ids || typeof ids !== 'object' || Array.isArray(ids)) return;
  const map = ids as Record<string, unknown>;
  for (const [system, id] of Object.entries(map)) if (typeof id === 'number') map[system] = String(id);
}

/** Error messages end up in quarantine and logs: show the shape of a value, not the value. */
export function redact(value: string): string {
  return value.length <= 4 ? '****' : `${value.slice(0, 2)}…(${value.length} chars)`;
}
