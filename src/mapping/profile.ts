import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface Address {
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  country?: string;
}

export interface ConsentStatement {
  purpose: string;
  status: 'granted' | 'denied';
  /** When the statement was made: as stated, or the record's receipt time where it stated a later one. */
  at: string;
  /** The time the source stated, set only where it was after the record's receipt and `at` was capped. */
  statedAt?: string;
}

/** The canonical profile: what every mapping produces and every golden record is made of. */
export interface Profile {
  name?: { given?: string; family?: string; full?: string };
  emails?: string[];
  phones?: string[];
  dateOfBirth?: string;
  addresses?: Address[];
  nationalId?: string;
  externalIds?: Record<string, string>;
  company?: string;
  attributes?: Record<string, unknown>;
  consent?: ConsentStatement[];
}

export const profileSchema = JSON.parse(readFileSync(path.join(import.meta.dirname, 'profile.schema.json'), 'utf8')) as Record<
  string,
  unknown
>;

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv, ['email', 'date-time']);
const validateProfile = ajv.compile<Profile>(profileSchema);

/**
 * Keeps plain JSON only: drops blank strings, nulls, functions and non-finite numbers (JSONata can
 * return all of them), and the empty objects and lists they leave behind; trims strings. The copy
 * also sheds JSONata's sequence markers on arrays.
 */
function pruneBlank(value: unknown): unknown {
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

const asList = (v: unknown): unknown[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
const unique = <T>(items: T[]): T[] => [...new Set(items)];

export type NormaliseResult = { ok: true; profile: Profile } | { ok: false; message: string };

export interface NormaliseOptions {
  defaultRegion: string | undefined;
  /** When the source says the record was true: a consent statement without a time is dated then. */
  observedAt: Date;
  /** When the hub received the record: no consent statement is dated later. */
  receivedAt: Date;
}

/**
 * Normalises a mapped fragment (emails lowercased, phones to E.164, single values to lists, blank as
 * absent, consent time defaulting to when the record was observed and capped at its receipt), then
 * validates it.
 */
export function normaliseProfile(raw: unknown, options: NormaliseOptions): NormaliseResult {
  const pruned = pruneBlank(raw) ?? {};
  if (typeof pruned !== 'object' || Array.isArray(pruned)) {
    return { ok: false, message: 'the profile expression must produce an object' };
  }
  const p = { ...(pruned as Record<string, unknown>) };
  const problems: string[] = [];

  if (typeof p['name'] === 'string') p['name'] = { full: p['name'] };
  const name = p['name'] as Record<string, unknown> | undefined;
  if (name && typeof name === 'object' && name['full'] === undefined) {
    const full = [name['given'], name['family']].filter((n) => typeof n === 'string').join(' ');
    if (full) name['full'] = full;
  }

  const emails = asList(p['emails']);
  if (emails) p['emails'] = unique(emails.map((e) => (typeof e === 'string' ? e.toLowerCase() : e)) as string[]);

  const phones = asList(p['phones']);
  if (phones) {
    p['phones'] = unique(
      phones.map((phone, i) => {
        const text = typeof phone === 'number' ? String(phone) : phone;
        if (typeof text !== 'string') return text as string;
        const parsed = parsePhoneNumberFromString(text, options.defaultRegion as CountryCode | undefined);
        if (parsed?.isValid()) return parsed.number;
        problems.push(
          `phones/${i}: "${redact(text)}" is not a valid phone number${options.defaultRegion ? '' : ' (no country code and AURUM_DEFAULT_REGION is not set)'}`,
        );
        return text;
      }),
    );
  }

  const addresses = asList(p['addresses']);
  if (addresses) p['addresses'] = addresses;

  for (const key of ['nationalId', 'company', 'dateOfBirth'] as const) {
    if (typeof p[key] === 'number') p[key] = String(p[key]);
  }
  const externalIds = p['externalIds'] as Record<string, unknown> | undefined;
  if (externalIds && typeof externalIds === 'object') {
    for (const [system, id] of Object.entries(externalIds)) {
      if (typeof id === 'number') externalIds[system] = String(id);
    }
  }

  const consent = asList(p['consent']);
  if (consent) {
    p['consent'] = consent.map((c) => (c && typeof c === 'object' && !('at' in c) ? { ...c, at: options.observedAt.toISOString() } : c));
  }

  if (!validateProfile(p)) {
    for (const e of validateProfile.errors ?? []) {
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
      problems.push(`${e.instancePath.slice(1) || 'profile'}: ${e.message ?? 'is invalid'}${extra}`);
    }
  }
  if (problems.length > 0) return { ok: false, message: unique(problems).join('; ') };
  const profile = p as Profile;
  if (profile.consent) profile.consent = profile.consent.map((c) => capAtReceipt(c, options.receivedAt));
  return { ok: true, profile };
}

/**
 * Nobody can have said anything after the hub heard it: a statement dated later (a vendor's clock,
 * a typo, a grant dated 2099 to outrank every withdrawal) is dated at the receipt, and keeps the time
 * it stated so the ledger shows both. Checked after validation, so `at` is a valid date-time here.
 */
function capAtReceipt(statement: ConsentStatement, receivedAt: Date): ConsentStatement {
  const stated = Date.parse(statement.at);
  if (!(stated > receivedAt.getTime())) return statement;
  return { ...statement, at: receivedAt.toISOString(), statedAt: new Date(stated).toISOString() };
}

/** Error messages end up in quarantine and logs: show the shape of a value, not the value. */
function redact(value: string): string {
  return value.length <= 4 ? '****' : `${value.slice(0, 2)}…(${value.length} chars)`;
}
