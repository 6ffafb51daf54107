import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { normaliseHost } from './domains.ts';
import { asList, normalisePhones, pruneBlank, stringifyIds, unique } from './normalise-values.ts';

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
  /** The accounts (companies) the person belongs to, by one of the account's keys. */
  accounts?: Membership[];
}

/** How a person's record names an account: by one of its keys, as the account's own records state them. */
export type AccountRef =
  | { externalIds: Record<string, string> }
  | { domain: string }
  | { name: string }
  | { registrationIds: Record<string, string> };

export interface Membership {
  ref: AccountRef;
  role?: string;
}

export const profileSchema = JSON.parse(readFileSync(path.join(import.meta.dirname, 'profile.schema.json'), 'utf8')) as Record<
  string,
  unknown
>;

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv, ['email', 'date-time']);
const validateProfile = ajv.compile<Profile>(profileSchema);

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
  if (phones) p['phones'] = normalisePhones(phones, options.defaultRegion, problems);

  const addresses = asList(p['addresses']);
  if (addresses) p['addresses'] = addresses;

  for (const key of ['nationalId', 'company', 'dateOfBirth'] as const) {
    if (typeof p[key] === 'number') p[key] = String(p[key]);
  }
  stringifyIds(p['externalIds']);
  const accounts = asList(p['accounts']);
  if (accounts) p['accounts'] = accounts.map(normaliseMembership);

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

/** A membership's reference: ids as strings, a domain as its host (`https://www.Acme.example/x` is `acme.example`). */
function normaliseMembership(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const m = { ...(value as Record<string, unknown>) };
  const ref = m['ref'];
  if (ref && typeof ref === 'object' && !Array.isArray(ref)) {
    const r = { ...(ref as Record<string, unknown>) };
    stringifyIds(r['externalIds']);
    stringifyIds(r['registrationIds']);
    if (typeof r['domain'] === 'string') r['domain'] = normaliseHost(r['domain']) ?? r['domain'];
    if (typeof r['name'] === 'number') r['name'] = String(r['name']);
    m['ref'] = r;
  }
  if (typeof m['role'] === 'number') m['role'] = String(m['role']);
  return m;
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
