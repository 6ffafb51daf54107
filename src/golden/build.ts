import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { type ConsentEntry, type ConsentStatus, currentConsent } from '../consent/status.ts';
import type { Account } from '../mapping/account.ts';
import { goldenFields, survivorshipOf } from '../mapping/fields.ts';
import type { Address, Profile } from '../mapping/profile.ts';

/** A member record of a profile (or account), as survivorship sees it. */
export interface Member<F = Profile> {
  source: string;
  object: string;
  recordId: string;
  fragment: F;
  priority: number;
  sourceUpdatedAt: Date | null;
  observedAt: Date;
  mappingFile: string;
  mappingHash: string;
}

/** Where a value came from. */
export interface Provenance {
  source: string;
  object: string;
  recordId: string;
  observedAt: string;
  updatedAt: string | null;
  mapping: string;
  mappingHash: string;
}

export interface ScalarLineage extends Provenance {
  value: unknown;
  /** Every member that offered a value, winner first, with the value it offered. */
  candidates: (Provenance & { value: unknown })[];
}

export interface ListLineage {
  value: unknown;
  sources: Provenance[];
}

export interface Golden {
  name?: Profile['name'];
  emails: string[];
  phones: string[];
  dateOfBirth?: string;
  addresses: Address[];
  nationalId?: string;
  externalIds: Record<string, string>;
  company?: string;
  attributes: Record<string, unknown>;
  consent: ConsentStatus[];
  sources: { source: string; object: string; recordId: string }[];
}

/** An account's golden record: the account's fields, survived, and the records it was built from. */
export interface AccountGolden {
  name?: string;
  domains: string[];
  emails: string[];
  phones: string[];
  addresses: Address[];
  externalIds: Record<string, string>;
  registrationIds: Record<string, string>;
  industry?: string;
  attributes: Record<string, unknown>;
  sources: { source: string; object: string; recordId: string }[];
}

/**
 * The golden record's top-level fields, by name: every field of the canonical profile the golden
 * record carries (the field registry says which: memberships are shown by `GET /profiles/:id/accounts`),
 * and the member records it was built from. A destination's `fields` names these.
 */
export const GOLDEN_FIELDS: readonly string[] = goldenFields('person');

/** An account golden record's top-level fields. */
export const ACCOUNT_GOLDEN_FIELDS: readonly string[] = goldenFields('account');

export interface Built<G = Golden> {
  golden: G;
  lineage: Record<string, ScalarLineage | ListLineage[]>;
  hash: string;
}

const provenance = (m: Member<unknown>): Provenance => ({
  source: m.source,
  object: m.object,
  recordId: m.recordId,
  observedAt: m.observedAt.toISOString(),
  updatedAt: m.sourceUpdatedAt?.toISOString() ?? null,
  mapping: m.mappingFile,
  mappingHash: m.mappingHash,
});

/** Survivorship order: highest source priority, then the latest update (or receipt), then a stable tie-break. */
function rank<F>(members: readonly Member<F>[]): Member<F>[] {
  const time = (m: Member<F>) => (m.sourceUpdatedAt ?? m.observedAt).getTime();
  return [...members].sort(
    (a, b) => b.priority - a.priority || time(b) - time(a) || a.source.localeCompare(b.source) || a.recordId.localeCompare(b.recordId),
  );
}

/** How an entity's fields survive: scalars (the best-ranked value), maps (per key), lists (the union); from the field registry. */
interface Survivorship<F> {
  scalars: readonly (keyof F & string)[];
  maps: readonly (keyof F & string)[];
  lists: readonly [keyof F & string, (value: never) => string][];
}

const PERSON = survivorshipOf('person') as Survivorship<Profile>;
const ACCOUNT = survivorshipOf('account') as Survivorship<Account>;

/**
 * Survivorship over ranked members: each scalar (and each key of a map) from the best-ranked member
 * offering one, with every candidate in its lineage; each list the union, the best-ranked member's
 * values first, so the primary comes first.
 */
function survive<F>(ranked: readonly Member<F>[], spec: Survivorship<F>, into: Record<string, unknown>): Built['lineage'] {
  const lineage: Built['lineage'] = {};
  const pickScalar = (field: string, read: (f: F) => unknown) => {
    const offered = ranked.flatMap((m) => {
      const value = read(m.fragment);
      return value === undefined ? [] : [{ ...provenance(m), value }];
    });
    const [winner] = offered;
    if (!winner) return undefined;
    lineage[field] = { ...winner, candidates: offered };
    return winner.value;
  };
  for (const field of spec.scalars) {
    const value = pickScalar(field, (f) => f[field]);
    if (value !== undefined) into[field] = value;
  }
  for (const field of spec.maps) {
    const map = (into[field] ?? {}) as Record<string, unknown>;
    const read = (f: F) => f[field] as Record<string, unknown> | undefined;
    for (const key of new Set(ranked.flatMap((m) => Object.keys(read(m.fragment) ?? {})))) {
      map[key] = pickScalar(`${field}.${key}`, (f) => read(f)?.[key]);
    }
    into[field] = map;
  }
  for (const [field, keyOf] of spec.lists) {
    const seen = new Map<string, ListLineage>();
    for (const m of ranked) {
      for (const value of (m.fragment[field] ?? []) as never[]) {
        const key = keyOf(value);
        const entry = seen.get(key) ?? { value, sources: [] };
        entry.sources.push(provenance(m));
        seen.set(key, entry);
      }
    }
    into[field] = [...seen.values()].map((e) => e.value);
    if (seen.size > 0) lineage[field] = [...seen.values()];
  }
  return lineage;
}

const sourcesOf = (ranked: readonly Member<unknown>[]) =>
  ranked
    .map((m) => ({ source: m.source, object: m.object, recordId: m.recordId }))
    .sort((a, b) => a.source.localeCompare(b.source) || a.object.localeCompare(b.object) || a.recordId.localeCompare(b.recordId));

const hashOf = (golden: unknown) =>
  createHash('sha256')
    .update(stringify(golden) ?? '')
    .digest('hex');

export function buildGolden(members: readonly Member[], consentEntries: readonly ConsentEntry[]): Built {
  const ranked = rank(members);
  const golden: Golden = { emails: [], phones: [], addresses: [], externalIds: {}, attributes: {}, consent: [], sources: [] };
  const lineage = survive(ranked, PERSON, golden as unknown as Record<string, unknown>);
  golden.consent = currentConsent(consentEntries);
  golden.sources = sourcesOf(ranked);
  return { golden, lineage, hash: hashOf(golden) };
}

/** An account's golden record, survived as a person's is (source priority, then recency). */
export function buildAccountGolden(members: readonly Member<Account>[]): Built<AccountGolden> {
  const ranked = rank(members);
  const golden: AccountGolden = {
    domains: [],
    emails: [],
    phones: [],
    addresses: [],
    externalIds: {},
    registrationIds: {},
    attributes: {},
    sources: [],
  };
  const lineage = survive(ranked, ACCOUNT, golden as unknown as Record<string, unknown>);
  golden.sources = sourcesOf(ranked);
  return { golden, lineage, hash: hashOf(golden) };
}
