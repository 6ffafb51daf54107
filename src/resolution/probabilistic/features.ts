import { createHash } from 'node:crypto';
import anyAscii from 'any-ascii';
import { doubleMetaphone } from 'double-metaphone';
import type { Account } from '../../mapping/account.ts';
import { companyNameKey } from '../../mapping/company-names.ts';
import type { Profile } from '../../mapping/profile.ts';
import { SUFFIXES as SPLIT_NAME_SUFFIXES } from '../../mapping/split-name.ts';

/** What the engine compares: a person's profile or an account. */
export type Comparable = Profile | Account;

const NORMAL = /^[a-z0-9@+.-]+(?: [a-z0-9@+.-]+)*$/;

/**
 * Lowercase, accents off, other scripts transliterated (Иван → ivan, 张伟 → zhangwei, ß → ss),
 * punctuation to spaces (but not in emails and phones), spaces collapsed.
 */
export function normaliseText(value: string): string {
  // Most values are already normal (mappings lowercase, vendors send ASCII): one test instead of five passes.
  if (NORMAL.test(value)) return value;
  const lower = value.toLowerCase();
  if (NORMAL.test(lower)) return lower;
  return anyAscii(lower.normalize('NFKD').replace(/[\u0300-\u036f]/g, ''))
    .toLowerCase()
    .replace(/[^a-z0-9@+.\s-]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The values of a profile (or account) path, normalised for comparison; dates become YYYYMMDD. */
export function valuesOf(record: Comparable, field: string, blocked: ReadonlySet<string>): string[] {
  let raw: unknown[];
  switch (field) {
    case 'name':
      // An account's name, without its legal form: "Acme Ltd" and "ACME Limited" agree exactly.
      return typeof record.name === 'string' ? clean([companyNameKey(record.name)], blocked) : [];
    case 'name.given':
    case 'name.family':
    case 'name.full':
    case 'name.suffix': {
      if (typeof record.name !== 'object') return [];
      const part = nameParts(record.name)[field.slice(5) as keyof NameParts];
      return part !== undefined && !blocked.has(part) ? [part] : [];
    }
    case 'dateOfBirth':
      raw = ['dateOfBirth' in record ? record.dateOfBirth?.replace(/-/g, '') : undefined];
      break;
    case 'emails':
    case 'phones':
      raw = record[field] ?? [];
      break;
    case 'domains':
      raw = 'domains' in record ? (record.domains ?? []) : [];
      break;
    case 'registrationIds':
      raw = 'registrationIds' in record ? Object.entries(record.registrationIds ?? {}).map(([scheme, id]) => `${scheme}:${id}`) : [];
      break;
    case 'nationalId':
    case 'company':
      raw = [field in record ? (record as Profile)[field] : undefined];
      break;
    case 'industry':
      raw = ['industry' in record ? record.industry : undefined];
      break;
    default: {
      if (field.startsWith('attributes.')) {
        const value = (record as Profile).attributes?.[field.slice('attributes.'.length)];
        raw = (Array.isArray(value) ? value : [value]).map((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v));
        break;
      }
      const key = field.slice('addresses.'.length) as keyof NonNullable<Profile['addresses']>[number];
      raw = (record.addresses ?? []).map((a) => a[key]);
    }
  }
  return clean(raw, blocked);
}

interface NameParts {
  given?: string;
  family?: string;
  full?: string;
  suffix?: string;
}

/** Generational suffixes, as compared: `$splitName`'s, and "Junior", "Senior", "2nd"… as one with them. */
const SUFFIXES: Readonly<Record<string, string>> = {
  ...SPLIT_NAME_SUFFIXES,
  junior: 'jr',
  senior: 'sr',
  '2nd': 'ii',
  '3rd': 'iii',
  '4th': 'iv',
};
const SIMPLE_WORD = /^[A-Za-z][a-z-]*$/;
const TITLES = new Set(['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'sir']);

const namePartsCache = new WeakMap<object, NameParts>();
/**
 * A name's parts as compared, normalised: a generational suffix taken off whichever part carries it
 * ("John Smith Jr", given "John Jr"), titles dropped, and a given or family name missing from a
 * record that has only a full name taken from it ("Smith, John", "John A. Smith").
 */
export function nameParts(name: { given?: string; family?: string; full?: string; suffix?: string }): NameParts {
  let parts = namePartsCache.get(name);
  if (parts) return parts;
  // Most names are a one-word given and family name, nothing to split or strip: the fast path.
  const simple = (v: unknown) => typeof v === 'string' && SIMPLE_WORD.test(v);
  if (
    name.suffix === undefined &&
    simple(name.given) &&
    simple(name.family) &&
    (name.full === undefined || name.full === `${name.given} ${name.family}`) &&
    !TITLES.has((name.given as string).toLowerCase())
  ) {
    const given = (name.given as string).toLowerCase();
    const family = (name.family as string).toLowerCase();
    parts = { given, family, full: `${given} ${family}` };
    namePartsCache.set(name, parts);
    return parts;
  }
  const suffixOf = (value: string) => normaliseText(value.replace(/[.,]/g, ' '));
  let suffix = typeof name.suffix === 'string' ? (SUFFIXES[suffixOf(name.suffix)] ?? suffixOf(name.suffix)) : undefined;
  const words = (value: unknown): string[] => {
    if (typeof value !== 'string') return [];
    const out = normaliseText(value.replace(/[.,]/g, ' '))
      .split(' ')
      .filter((w) => w !== '' && !TITLES.has(w));
    const last = out.at(-1);
    if (out.length > 1 && last !== undefined && SUFFIXES[last]) {
      suffix ??= SUFFIXES[last];
      out.pop();
    }
    return out;
  };
  let given = words(name.given);
  let family = words(name.family);
  const fullText = typeof name.full === 'string' ? name.full : undefined;
  const full = words(fullText);
  if ((given.length === 0 || family.length === 0) && full.length > 1) {
    // "Smith, John": the family name comes first.
    const comma = fullText?.indexOf(',') ?? -1;
    const familyFirst = comma > 0 && given.length === 0 && family.length === 0 && !SUFFIXES[suffixOf(fullText?.slice(comma + 1) ?? '')];
    if (familyFirst) {
      const familyWords = words(fullText?.slice(0, comma));
      if (given.length === 0) given = full.slice(familyWords.length, familyWords.length + 1);
      if (family.length === 0) family = familyWords;
    } else {
      if (given.length === 0) given = full.slice(0, 1);
      if (family.length === 0) family = full.slice(-1);
    }
  }
  const join = (w: string[]) => (w.length > 0 ? w.join(' ') : undefined);
  parts = {};
  const g = join(given);
  const f = join(family);
  const n = join(full.length > 0 ? full : [...given, ...family]);
  if (g !== undefined) parts.given = g;
  if (f !== undefined) parts.family = f;
  if (n !== undefined) parts.full = n;
  if (suffix) parts.suffix = suffix;
  namePartsCache.set(name, parts);
  return parts;
}

function clean(raw: readonly unknown[], blocked: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const v of raw) {
    if (typeof v !== 'string') continue;
    const n = normaliseText(v);
    if (n !== '' && !blocked.has(n) && !out.includes(n)) out.push(n);
  }
  return out;
}

const metaphoneCache = new Map<string, string[]>();
/** Double metaphone codes (primary and alternate) of a value, word by word. */
export function metaphone(value: string): string[] {
  let codes = metaphoneCache.get(value);
  if (!codes) {
    const words = value.split(' ').map((w) => doubleMetaphone(w));
    const primary = words.map((w) => w[0]).join(' ');
    const alternate = words.map((w) => w[1]).join(' ');
    codes = primary === alternate ? [primary] : [primary, alternate];
    if (metaphoneCache.size > 500_000) metaphoneCache.clear();
    metaphoneCache.set(value, codes);
  }
  return codes;
}

/** One part of a key rule: a field's values, transformed. */
export interface KeyPart {
  field: string;
  transform: (values: readonly string[]) => readonly string[];
}

/**
 * A rule's name in the keys it makes: a hash of its parts, sorted. Keys are stored with the records
 * they come from, so a name by position would change when `identity.yaml` lists its rules (or a
 * rule's parts) in another order, and stored records would silently stop matching.
 */
export function ruleId(rule: readonly string[]): string {
  return createHash('sha256')
    .update([...rule].sort().join('+'))
    .digest('hex')
    .slice(0, 10);
}

/** A rule's parts in the order its keys are built: sorted, as `ruleId` names them. */
export const ruleParts = (rule: readonly string[]): KeyPart[] => [...rule].sort().map(keyPart);

/** Parses a key rule's part once: `field` or `field:transform` (metaphone, year, prefixN). */
export function keyPart(spec: string): KeyPart {
  const [field, transform] = spec.split(':') as [string, string | undefined];
  if (!transform) return { field, transform: (values) => values };
  if (transform === 'metaphone') {
    return { field, transform: (values) => values.flatMap((v) => metaphone(v)).filter((c) => c !== '') };
  }
  if (transform === 'year') return { field, transform: (values) => values.map((v) => v.slice(0, 4)) };
  const prefix = /^prefix(\d+)$/.exec(transform);
  if (prefix) {
    const length = Number(prefix[1]);
    return { field, transform: (values) => values.map((v) => v.slice(0, length)) };
  }
  throw new Error(`unknown blocking transform "${transform}"`);
}
