import { type Account, normaliseAccount } from './account.ts';
import { regionOf } from './helpers.ts';
import type { CompiledMapping } from './mapping-file.ts';
import { normaliseProfile, type Profile } from './profile.ts';
import type { Violation } from './violations.ts';

/** A raw record as it was stored at intake. */
export interface RawRecord {
  id: number;
  source: string;
  receivedAt: Date;
  contentHash: string;
  payload: unknown;
}

/** What one mapping made of one raw record: a normalised, validated piece of a person or an account. */
export type Fragment = PersonFragment | AccountFragment;
export interface PersonFragment extends FragmentBase {
  entity: 'person';
  profile: Profile;
}
export interface AccountFragment extends FragmentBase {
  entity: 'account';
  /** The account, under the name every fragment's content goes by. */
  profile: Account;
}

interface FragmentBase {
  rawId: number;
  source: string;
  object: string;
  recordId: string;
  contentHash: string;
  /** The source's `updatedAt`, capped at the record's receipt. */
  updatedAt: Date | null;
  /** The `updatedAt` the source stated, set only where it was after the receipt and was capped. */
  statedUpdatedAt?: Date;
  observedAt: Date;
  mappingFile: string;
  mappingHash: string;
  /** The vendor deleted or archived the object (the mapping's `deleted` held): it leaves its profile. */
  deleted?: boolean;
  /** The values dropped from the fragment as invalid or blocked, stored with the record; absent when none. */
  violations?: Violation[];
}

/** A record id is part of an index entry (source, object, record id), which holds 2,704 bytes. */
export const MAX_RECORD_ID_LENGTH = 512;

export const QUARANTINE_CODES = {
  mapping_error: 'a JSONata expression failed on the record',
  schema_invalid:
    'the mapped fragment breaks the canonical profile (or account) schema, or nothing that identifies it is left once its invalid values are dropped',
  record_id_missing: 'recordId produced no string or number',
  updated_at_invalid: 'updatedAt produced no valid time',
  unmapped: 'no mapping of the source applies to the record',
  fetch_failed: 'the objects the webhook names could not be fetched from the vendor',
  consent_purpose_unknown: 'a consent entry names a purpose consent.yaml does not declare',
  record_id_too_long: `recordId is longer than ${MAX_RECORD_ID_LENGTH} characters`,
  processing_failed: 'the record could not be processed; the rest of its batch was',
  characters_replaced:
    'the record held text the database cannot store (\\u0000 or a lone surrogate): stored and processed with U+FFFD in its place',
  key_too_long: 'a value was too long to serve as a key: the record was linked without it',
  too_many_identifiers: 'the record alone carries more identifiers than identity.yaml maxPerProfile lets a profile hold',
} as const;
export type QuarantineCode = keyof typeof QUARANTINE_CODES;

export interface MappingFailure {
  rawId: number;
  source: string;
  mappingFile: string | null;
  code: QuarantineCode;
  message: string;
}

export interface MapOptions {
  defaultRegion: string | undefined;
  /** Whether consent.yaml declares a purpose; without it, every purpose is known. */
  knownPurpose?: (purpose: string) => boolean;
  /**
   * identity.yaml's blockedValues, lowercased: dropped from the fields that hold identifiers. Handed
   * in by the caller, as identity.yaml is resolution's, a stage above this one.
   */
  blockedValues?: ReadonlySet<string>;
}

function toDate(value: unknown): Date | null | 'invalid' {
  if (value === undefined || value === null || value === '') return null;
  // Vendors send epoch seconds (Stripe) or milliseconds (HubSpot); 1e11 s is the year 5138.
  const date = typeof value === 'number' ? new Date(value < 1e11 ? value * 1000 : value) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? 'invalid' : date;
}

function describe(e: unknown): string {
  const error = e as { code?: string; position?: number; message?: string };
  return error.code ? `JSONata ${error.code} at character ${error.position ?? '?'}: ${error.message}` : String(error.message ?? e);
}

const violationsOf = ({ violations }: { violations: Violation[] }) => (violations.length > 0 ? { violations } : {});

/** Evaluates every mapping of the record's source, each compiled once at start-up. */
export async function mapRecord(
  record: RawRecord,
  mappings: readonly CompiledMapping[],
  options: MapOptions,
): Promise<{ fragments: Fragment[]; failures: MappingFailure[] }> {
  const fragments: Fragment[] = [];
  const failures: MappingFailure[] = [];
  const fail = (mappingFile: string | null, code: QuarantineCode, message: string) =>
    failures.push({ rawId: record.id, source: record.source, mappingFile, code, message });
  const scope = { receivedAt: record.receivedAt.toISOString(), source: record.source };

  for (const mapping of mappings) {
    if (mapping.source !== record.source) continue;
    try {
      // The mapping's `region:` (a country column) reads the record's national phone numbers; a
      // blank or unknown one leaves them to AURUM_DEFAULT_REGION.
      const region = (mapping.region && regionOf(await mapping.region.evaluate(record.payload, scope))) || options.defaultRegion;
      const bindings = { ...scope, region };
      if (mapping.when && !(await mapping.when.evaluate(record.payload, bindings))) continue;
      const id = await mapping.recordId.evaluate(record.payload, bindings);
      if ((typeof id !== 'string' || id.trim() === '') && typeof id !== 'number') {
        fail(mapping.file, 'record_id_missing', QUARANTINE_CODES.record_id_missing);
        continue;
      }
      if (String(id).trim().length > MAX_RECORD_ID_LENGTH) {
        fail(mapping.file, 'record_id_too_long', QUARANTINE_CODES.record_id_too_long);
        continue;
      }
      const stated = toDate(mapping.updatedAt ? await mapping.updatedAt.evaluate(record.payload, bindings) : undefined);
      if (stated === 'invalid') {
        fail(mapping.file, 'updated_at_invalid', QUARANTINE_CODES.updated_at_invalid);
        continue;
      }
      // A time after the receipt is capped at it, as consent times are: a record dated 2099 would
      // otherwise be its profile's newest, and win every field, for ever.
      const capped = stated !== null && stated.getTime() > record.receivedAt.getTime();
      const updatedAt = capped ? record.receivedAt : stated;
      // Consent without a time of its own is dated by the stated time, so the ledger shows it capped.
      const observedAt = stated ?? record.receivedAt;
      const deleted = mapping.deleted ? Boolean(await mapping.deleted.evaluate(record.payload, bindings)) : false;
      // The normalisers copy the result into plain JSON (JSONata's sequences carry markers).
      const raw = await mapping.expression.evaluate(record.payload, bindings);
      const base = {
        rawId: record.id,
        source: record.source,
        object: mapping.object,
        recordId: String(id).trim(),
        contentHash: record.contentHash,
        updatedAt,
        ...(capped ? { statedUpdatedAt: stated } : {}),
        observedAt: record.receivedAt,
        mappingFile: mapping.file,
        mappingHash: mapping.hash,
        ...(deleted ? { deleted } : {}),
      };
      const values = { onInvalid: mapping.onInvalid, ...(options.blockedValues ? { blocked: options.blockedValues } : {}) };
      if (mapping.entity === 'account') {
        const account = normaliseAccount(raw, { defaultRegion: region, ...values });
        if (!account.ok) fail(mapping.file, 'schema_invalid', account.message);
        else fragments.push({ ...base, ...violationsOf(account), entity: 'account', profile: account.account });
        continue;
      }
      const normalised = normaliseProfile(raw, {
        defaultRegion: region,
        observedAt,
        receivedAt: record.receivedAt,
        ...values,
      });
      if (!normalised.ok) {
        fail(mapping.file, 'schema_invalid', normalised.message);
        continue;
      }
      const unknown = options.knownPurpose && (normalised.profile.consent ?? []).filter((c) => !options.knownPurpose?.(c.purpose));
      if (unknown && unknown.length > 0) {
        const names = [...new Set(unknown.map((c) => c.purpose))].join(', ');
        fail(mapping.file, 'consent_purpose_unknown', `consent for ${names}: not a purpose declared in consent.yaml`);
        continue;
      }
      fragments.push({ ...base, ...violationsOf(normalised), entity: 'person', profile: normalised.profile });
    } catch (e) {
      fail(mapping.file, 'mapping_error', describe(e));
    }
  }
  if (fragments.length === 0 && failures.length === 0) {
    fail(null, 'unmapped', `${QUARANTINE_CODES.unmapped} (source "${record.source}")`);
  }
  return { fragments, failures };
}
