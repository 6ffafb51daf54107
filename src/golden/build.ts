import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { type ConsentEntry, type ConsentStatus, currentConsent } from '../consent/status.ts';
import { type Address, type Profile, profileSchema } from '../mapping/profile.ts';

/** A member record of a profile, as survivorship sees it. */
export interface Member {
  source: string;
  object: string;
  recordId: string;
  fragment: Profile;
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

/**
 * The golden record's top-level fields, by name: every field of the canonical profile
 * (profile.schema.json), and the member records it was built from. A destination's `fields` names these.
 */
export const GOLDEN_FIELDS: readonly string[] = [
  ...Object.keys(profileSchema['properties'] as Record<string, unknown>),
  'sources' satisfies keyof Golden,
];

export interface Built {
  golden: Golden;
  lineage: Record<string, ScalarLineage | ListLineage[]>;
  hash: string;
}

const provenance = (m: Member): Provenance => ({
  source: m.source,
  object: m.object,
  recordId: m.recordId,
  observedAt: m.observedAt.toISOString(),
  updatedAt: m.sourceUpdatedAt?.toISOString() ?? null,
  mapping: m.mappingFile,
  mappingHash: m.mappingHash,
});

/** Survivorship order: highest source priority, then the latest update (or receipt), then a stable tie-break. */
function rank(members: readonly Member[]): Member[] {
  const time = (m: Member) => (m.sourceUpdatedAt ?? m.observedAt).getTime();
  return [...members].sort(
    (a, b) => b.priority - a.priority || time(b) - time(a) || a.source.localeCompare(b.source) || a.recordId.localeCompare(b.recordId),
  );
}

const SCALARS = ['name', 'dateOfBirth', 'nationalId', 'company'] as const;
const LISTS = { emails: (v: string) => v, phones: (v: string) => v, addresses: addressKey } as const;

function addressKey(a: Address): string {
  return stringify(Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v).toLowerCase().replace(/\s+/g, ' ')])));
}

export function buildGolden(members: readonly Member[], consentEntries: readonly ConsentEntry[]): Built {
  const ranked = rank(members);
  const lineage: Built['lineage'] = {};

  const pickScalar = (field: string, read: (p: Profile) => unknown) => {
    const offered = ranked.flatMap((m) => {
      const value = read(m.fragment);
      return value === undefined ? [] : [{ ...provenance(m), value }];
    });
    const [winner] = offered;
    if (!winner) return undefined;
    lineage[field] = { ...winner, candidates: offered };
    return winner.value;
  };

  const golden: Golden = { emails: [], phones: [], addresses: [], externalIds: {}, attributes: {}, consent: [], sources: [] };
  for (const field of SCALARS) {
    const value = pickScalar(field, (p) => p[field]);
    if (value !== undefined) (golden as unknown as Record<string, unknown>)[field] = value;
  }
  for (const system of new Set(ranked.flatMap((m) => Object.keys(m.fragment.externalIds ?? {}))).values()) {
    golden.externalIds[system] = pickScalar(`externalIds.${system}`, (p) => p.externalIds?.[system]) as string;
  }
  for (const key of new Set(ranked.flatMap((m) => Object.keys(m.fragment.attributes ?? {}))).values()) {
    golden.attributes[key] = pickScalar(`attributes.${key}`, (p) => p.attributes?.[key]);
  }

  // Lists: the union; the best-ranked member's values first, so the primary comes first.
  for (const [field, keyOf] of Object.entries(LISTS) as [keyof typeof LISTS, (v: never) => string][]) {
    const seen = new Map<string, ListLineage>();
    for (const m of ranked) {
      for (const value of (m.fragment[field] ?? []) as never[]) {
        const key = keyOf(value);
        const entry = seen.get(key) ?? { value, sources: [] };
        entry.sources.push(provenance(m));
        seen.set(key, entry);
      }
    }
    (golden[field] as unknown[]) = [...seen.values()].map((e) => e.value);
    if (seen.size > 0) lineage[field] = [...seen.values()];
  }

  golden.consent = currentConsent(consentEntries);
  golden.sources = ranked
    .map((m) => ({ source: m.source, object: m.object, recordId: m.recordId }))
    .sort((a, b) => a.source.localeCompare(b.source) || a.object.localeCompare(b.object) || a.recordId.localeCompare(b.recordId));
  const hash = createHash('sha256')
    .update(stringify(golden) ?? '')
    .digest('hex');
  return { golden, lineage, hash };
}
