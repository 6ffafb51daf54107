import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { stringify } from 'safe-stable-stringify';
import { normaliseHost } from './domains.ts';
import type { Entity } from './mapping-file.ts';
import { asList, normalisePhones, stringifyIds, unique } from './normalise-values.ts';
import { type InvalidValue, VIOLATION_KINDS, type ViolationKind } from './violations.ts';

/** What a field's normaliser may use besides its value. */
export interface FieldContext {
  defaultRegion: string | undefined;
  /** When the source says the record was true: a consent statement without a time is dated then. */
  observedAt: Date;
  /** Values that fail their field's check, left in place: `settleValues` drops them or quarantines the record. */
  invalid: InvalidValue[];
}

/**
 * One canonical field, declared once. The JSON Schemas (`profile.schema.json`,
 * `account.schema.json`), the normalisers, golden-record survivorship, the paths identity.yaml may
 * compare, and the identifiers an erasure tombstones all derive from these entries: adding a
 * field is one entry here (and a test).
 */
export interface CanonicalField {
  description: string;
  /** The JSON Schema of the value after normalisation. */
  schema: Record<string, unknown>;
  /** Brings a mapped value to its canonical form before validation (single values to lists, numbers to strings…). */
  normalise?: (value: unknown, context: FieldContext) => unknown;
  /**
   * How the golden record keeps it: the best-ranked member's value (`scalar`), per key (`map`),
   * the union (`list`, items compared by `listKey`), or not at all (`none`: consent has its own
   * ledger and status, memberships their own table).
   */
  survivorship: 'scalar' | 'map' | 'list' | 'none';
  listKey?: (value: never) => string;
  /** Paths identity.yaml's comparisons and blocking rules may name (`name.given`, `addresses.city`). */
  compare?: readonly string[];
  /** The identifier kind an erasure tombstones this field's values as (`email:…`, `ext:system:id`…). */
  tombstone?: 'email' | 'phone' | 'ext' | 'nid';
  /** False for a field the golden record does not carry (a person's memberships live in their own table). */
  golden?: false;
  /** A fragment holding none of these fields identifies nothing: quarantined when dropping its invalid values leaves it so. */
  identifies?: true;
  /** Its values are identifiers: identity.yaml's blockedValues are dropped from it. */
  blocked?: true;
}

/** A field as another entity has it, without erasure's tombstones: an account's contact points identify no person. */
const notTombstoned = ({ tombstone: _, ...field }: CanonicalField): CanonicalField => field;
/** An account's contact points (info@, the switchboard): they identify no person, and no account either. */
const contactPoint = ({ tombstone: _, identifies: __, ...field }: CanonicalField): CanonicalField => field;

const text = { type: 'string' };
const idMap = { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$' }, additionalProperties: { type: 'string' } };
const ADDRESS_PARTS = ['line1', 'line2', 'city', 'region', 'postalCode', 'country'] as const;
const address = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(ADDRESS_PARTS.map((p) => [p, text])),
};
const numberAsText = (value: unknown) => (typeof value === 'number' ? String(value) : value);
const lowercaseList = (value: unknown) => {
  const list = asList(value);
  return list && unique(list.map((e) => (typeof e === 'string' ? e.toLowerCase() : e)));
};
// The schema's own formats, so that a value dropped here is exactly one the schema refuses.
const formats = new Ajv({ strict: true });
addFormats.default(formats, ['email', 'date']);
const isEmail = formats.compile({ type: 'string', format: 'email' });
const isDate = formats.compile({ type: 'string', format: 'date' });

/** Notes a value that fails its check, under its top-level field unless named otherwise; the message says why, never what. */
function noteInvalid(
  context: FieldContext,
  found: { kind: ViolationKind; path: (string | number)[]; value: unknown; field?: string; message?: string },
): void {
  const { kind, path, value } = found;
  context.invalid.push({ path, field: found.field ?? String(path[0]), kind, message: found.message ?? VIOLATION_KINDS[kind], value });
}
const lowercaseEmails = (value: unknown, context: FieldContext) => {
  const list = lowercaseList(value);
  list?.forEach((email, i) => {
    if (typeof email === 'string' && !isEmail(email)) noteInvalid(context, { kind: 'email_invalid', path: ['emails', i], value: email });
  });
  return list;
};
const phones = (value: unknown, context: FieldContext) => {
  const list = asList(value);
  if (!list) return list;
  const { phones, invalid } = normalisePhones(list, context.defaultRegion);
  const message = `${VIOLATION_KINDS.phone_invalid}${context.defaultRegion ? '' : ' (no country code, and AURUM_DEFAULT_REGION is not set)'}`;
  for (const i of invalid) noteInvalid(context, { kind: 'phone_invalid', path: ['phones', i], value: phones[i], message });
  return phones;
};
const ids = (value: unknown) => {
  stringifyIds(value);
  return value;
};
const sameValue = (v: string) => v;

/** An address compared whatever its case and spacing. */
export function addressKey(a: Record<string, unknown>): string {
  return stringify(Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v).toLowerCase().replace(/\s+/g, ' ')]))) ?? '';
}

const emails: CanonicalField = {
  description: 'trimmed, lowercased, valid addresses',
  schema: { type: 'array', items: { type: 'string', format: 'email' } },
  normalise: lowercaseEmails,
  survivorship: 'list',
  listKey: sameValue,
  compare: ['emails'],
  tombstone: 'email',
  identifies: true,
  blocked: true,
};
const phonesField: CanonicalField = {
  description: 'E.164 through libphonenumber-js, with AURUM_DEFAULT_REGION for national numbers',
  schema: { type: 'array', items: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' } },
  normalise: phones,
  survivorship: 'list',
  listKey: sameValue,
  compare: ['phones'],
  tombstone: 'phone',
  identifies: true,
  blocked: true,
};
const addresses: CanonicalField = {
  description: '{line1, line2, city, region, postalCode, country}',
  schema: { type: 'array', items: address },
  normalise: asList,
  survivorship: 'list',
  listKey: addressKey as (value: never) => string,
  compare: ADDRESS_PARTS.map((p) => `addresses.${p}`),
};
const externalIds: CanonicalField = {
  description: '{system: id}',
  schema: idMap,
  normalise: ids,
  survivorship: 'map',
  tombstone: 'ext',
  identifies: true,
};
const attributes: CanonicalField = { description: 'free-form object', schema: { type: 'object' }, survivorship: 'map' };

/** A membership's reference: ids as strings, a domain as its host. */
function membership(value: unknown): unknown {
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

/** The canonical person (`profile:`). */
export const PERSON_FIELDS: Record<string, CanonicalField> = {
  name: {
    description:
      '{given, family, full, suffix}; `full` is derived from `given` + `family` when absent; a string is the full name; `suffix` is a generational suffix (jr, sr, ii, iii…)',
    schema: { type: 'object', additionalProperties: false, properties: { given: text, family: text, full: text, suffix: text } },
    normalise: (value) => {
      const name = typeof value === 'string' ? { full: value } : value;
      if (name && typeof name === 'object' && !Array.isArray(name)) {
        const n = name as Record<string, unknown>;
        if (n['full'] === undefined) {
          const full = [n['given'], n['family']].filter((p) => typeof p === 'string').join(' ');
          if (full) n['full'] = full;
        }
      }
      return name;
    },
    survivorship: 'scalar',
    compare: ['name.given', 'name.family', 'name.full', 'name.suffix'],
    identifies: true,
  },
  emails,
  phones: phonesField,
  dateOfBirth: {
    description: '`YYYY-MM-DD`, a calendar date',
    schema: { type: 'string', format: 'date' },
    normalise: (value, context) => {
      const date = numberAsText(value);
      if (typeof date === 'string' && !isDate(date)) noteInvalid(context, { kind: 'date_invalid', path: ['dateOfBirth'], value: date });
      return date;
    },
    survivorship: 'scalar',
    compare: ['dateOfBirth'],
    blocked: true,
  },
  addresses,
  nationalId: {
    description: 'string (a number becomes a string)',
    schema: text,
    normalise: numberAsText,
    survivorship: 'scalar',
    compare: ['nationalId'],
    tombstone: 'nid',
    identifies: true,
    blocked: true,
  },
  externalIds,
  company: { description: 'string', schema: text, normalise: numberAsText, survivorship: 'scalar', compare: ['company'] },
  attributes,
  consent: {
    description:
      '{purpose, status: "granted"|"denied", at}; `at` defaults to the record’s updatedAt, else its receipt, and is capped at the receipt',
    schema: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['purpose', 'status', 'at'],
        properties: {
          purpose: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' },
          status: { enum: ['granted', 'denied'] },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
    normalise: (value, { observedAt }) =>
      asList(value)?.map((c) => (c && typeof c === 'object' && !('at' in c) ? { ...c, at: observedAt.toISOString() } : c)),
    survivorship: 'none',
  },
  accounts: {
    description:
      "The accounts the person belongs to, each named by one key of the account's: an external id, a domain, a registration id or its name.",
    schema: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ref'],
        properties: {
          ref: {
            type: 'object',
            minProperties: 1,
            maxProperties: 1,
            additionalProperties: false,
            properties: {
              // One key names one account: a reference with two ids would have to pick one.
              externalIds: { ...idMap, minProperties: 1, maxProperties: 1 },
              registrationIds: { ...idMap, minProperties: 1, maxProperties: 1 },
              domain: { type: 'string', minLength: 1 },
              name: { type: 'string', minLength: 1 },
            },
          },
          role: text,
        },
      },
    },
    // A membership whose reference is blank is absent, as any blank value is; one by a domain that is none names no account.
    normalise: (value, context) => {
      const kept = asList(value)
        ?.filter((m) => !(m && typeof m === 'object' && !Array.isArray(m) && (m as Record<string, unknown>)['ref'] === undefined))
        .map(membership);
      kept?.forEach((m, i) => {
        const domain = (m as { ref?: { domain?: unknown } } | undefined)?.ref?.domain;
        if (typeof domain === 'string' && !normaliseHost(domain)) {
          const message = `the membership's ref.domain is ${VIOLATION_KINDS.domain_invalid}`;
          noteInvalid(context, { kind: 'domain_invalid', path: ['accounts', i], field: 'accounts.ref.domain', value: domain, message });
        }
      });
      return kept && kept.length > 0 ? kept : undefined;
    },
    survivorship: 'none',
    golden: false,
  },
};

/** `gb 123 4567-89` and `GB123456789` are one VAT number: registers ignore case, spaces, dots and dashes. */
export const registrationId = (id: string): string => id.toUpperCase().replace(/[\s.\-/]/g, '');

const LABEL = '[a-z0-9\\p{L}]([a-z0-9\\p{L}-]*[a-z0-9\\p{L}])?';

const HOST = new RegExp(`^${LABEL}(\\.${LABEL})+$`, 'u');

/** The canonical account (`account:`): a company, an organisation. */
export const ACCOUNT_FIELDS: Record<string, CanonicalField> = {
  name: { description: 'string', schema: text, normalise: numberAsText, survivorship: 'scalar', compare: ['name'], identifies: true },
  domains: {
    description: 'hosts: a URL, a bare domain or an email address gives its host, lowercased, without `www.`, port, path or trailing dot',
    schema: { type: 'array', items: { type: 'string', pattern: HOST.source } },
    normalise: (value, context) => {
      const list = asList(value);
      const hosts = list && unique(list.map((d) => (typeof d === 'string' ? (normaliseHost(d) ?? d) : d)));
      hosts?.forEach((host, i) => {
        if (typeof host === 'string' && !HOST.test(host))
          noteInvalid(context, { kind: 'domain_invalid', path: ['domains', i], value: host });
      });
      return hosts;
    },
    survivorship: 'list',
    listKey: sameValue,
    compare: ['domains'],
    identifies: true,
    blocked: true,
  },
  emails: { ...contactPoint(emails), description: 'contact points (info@), normalised as a person’s; not identifiers' },
  phones: { ...contactPoint(phonesField), description: 'contact points, normalised as a person’s' },
  addresses,
  externalIds: notTombstoned(externalIds),
  registrationIds: {
    description: "company registers' ids, {vat: …, companyNumber: …}; uppercased, without spaces, dots or dashes",
    schema: idMap,
    normalise: (value) => {
      stringifyIds(value);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const map = value as Record<string, unknown>;
        for (const [scheme, id] of Object.entries(map)) if (typeof id === 'string') map[scheme] = registrationId(id);
      }
      return value;
    },
    survivorship: 'map',
    compare: ['registrationIds'],
    identifies: true,
    blocked: true,
  },
  industry: { description: 'string', schema: text, normalise: numberAsText, survivorship: 'scalar', compare: ['industry'] },
  attributes,
};

export const FIELDS: Record<Entity, Record<string, CanonicalField>> = { person: PERSON_FIELDS, account: ACCOUNT_FIELDS };

/** Where each entity's schema is published, in src/mapping/ (`npm run schemas` writes them). */
export const SCHEMA_FILES: Record<Entity, string> = { person: 'profile.schema.json', account: 'account.schema.json' };

/** The JSON Schema of an entity's fragment, as `profile.schema.json` and `account.schema.json` publish it. */
export function schemaOf(entity: Entity): Record<string, unknown> {
  const person = entity === 'person';
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://aurum.dev/schemas/${person ? 'profile' : 'account'}.json`,
    title: person ? 'Aurum canonical profile fragment' : 'Aurum canonical account fragment',
    description: person
      ? 'What every `profile:` mapping must produce, after normalisation. Blank strings count as absent.'
      : 'What an `account:` mapping must produce, after normalisation: a company or organisation. Blank strings count as absent.',
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(
      Object.entries(FIELDS[entity]).map(([name, field]) => [name, { description: field.description, ...field.schema }]),
    ),
  };
}

/** Normalises each field of a pruned fragment in place with its declared normaliser. */
export function normaliseFields(entity: Entity, fragment: Record<string, unknown>, context: FieldContext): void {
  for (const [name, field] of Object.entries(FIELDS[entity])) {
    if (fragment[name] !== undefined && field.normalise) fragment[name] = field.normalise(fragment[name], context);
  }
}

/** The fields a golden record of `entity` holds, by how they survive. */
export function survivorshipOf(entity: Entity): { scalars: string[]; maps: string[]; lists: [string, (value: never) => string][] } {
  const fields = Object.entries(FIELDS[entity]);
  return {
    scalars: fields.filter(([, f]) => f.survivorship === 'scalar').map(([n]) => n),
    maps: fields.filter(([, f]) => f.survivorship === 'map').map(([n]) => n),
    lists: fields.filter(([, f]) => f.survivorship === 'list').map(([n, f]) => [n, f.listKey ?? (sameValue as (value: never) => string)]),
  };
}

/** The top-level fields of an entity's golden record, and the member records it was built from: what a destination's `fields` names. */
export const goldenFields = (entity: Entity): string[] => [
  ...Object.entries(FIELDS[entity])
    .filter(([, f]) => f.golden !== false)
    .map(([n]) => n),
  'sources',
];

/** The identifiers an erasure tombstones, in the order a suppression names the first that matched. */
export const TOMBSTONE_KINDS = ['email', 'phone', 'ext', 'nid'] as const;

/** The paths identity.yaml may compare or block on, for an entity. */
export const comparablePaths = (entity: Entity): Set<string> => new Set(Object.values(FIELDS[entity]).flatMap((f) => f.compare ?? []));
