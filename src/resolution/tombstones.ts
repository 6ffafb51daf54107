import { randomBytes } from 'node:crypto';
import { and, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { type Queryable, type RawRow, rowsOf, type Tx } from '../db/database.ts';
import { type erasureTombstones, suppressions } from '../db/schema.ts';
import { bigintArray, textArray, uuidArray } from '../db/sql.ts';
import { emptyRawRecords } from '../intake/store.ts';
import { PERSON_FIELDS, TOMBSTONE_KINDS } from '../mapping/fields.ts';
import type { Profile } from '../mapping/profile.ts';
import { closeErasedEntries } from '../mapping/quarantine-store.ts';
import { matchKeys, recordIdentity } from './keys.ts';

/**
 * The salted hash of an identity key, computed in SQL: linking checks a batch against the
 * tombstones in one statement, without fetching the salt. No salt yet (no erasure yet): null,
 * which matches nothing.
 */
export const tombstoneHash = (key: SQL) =>
  sql`encode(sha256(convert_to((select salt from erasure_salt where id = 1) || ${key}, 'UTF8')), 'hex')`;

/**
 * Tombstones an erasure's identity keys, as salted hashes only: a record arriving later with one of
 * them is suppressed, not linked. The salt is made by the first erasure.
 */
export async function addTombstones(tx: Tx, erasureId: string, keys: readonly string[]): Promise<void> {
  await tx.execute(sql`insert into erasure_salt (id, salt) values (1, ${randomBytes(32).toString('hex')}) on conflict do nothing`);
  await tx.execute(sql`
    insert into erasure_tombstones (hash, erasure_id)
    select ${tombstoneHash(sql`k.key`)}, ${erasureId}::uuid from unnest(${textArray(keys)}) as k(key)
    on conflict (hash) do nothing`);
}

/**
 * What identifies a record's person: its own identity, and the values of every field the field
 * registry marks as tombstoned (emails, phones, external ids, national id), in `TOMBSTONE_KINDS` order.
 */
export function tombstoneKeys(
  record: { source: string; object: string; recordId: string },
  profile: Profile,
  blocked: ReadonlySet<string>,
): string[] {
  const keys = [recordIdentity(record)];
  const fields = Object.entries(PERSON_FIELDS);
  const usable = (value: string) => !blocked.has(value.toLowerCase());
  for (const kind of TOMBSTONE_KINDS) {
    for (const [name, field] of fields) {
      if (field.tombstone !== kind) continue;
      const value = (profile as Record<string, unknown>)[name];
      if (kind === 'email' || kind === 'phone') keys.push(...matchKeys({ [`${kind}s`]: value as string[] | undefined }, blocked));
      else if (kind === 'ext') {
        for (const [system, id] of Object.entries((value ?? {}) as Record<string, string>))
          if (usable(id)) keys.push(`ext:${system}:${id}`);
      } else if (typeof value === 'string' && usable(value)) keys.push(`nid:${value}`);
    }
  }
  return keys;
}

/** The kind of identifier a key is, for the suppression log: `rec`, `email`, `phone`, `ext` or `nid`. */
export const keyKind = (key: string) => key.slice(0, key.indexOf(':'));

/** The keys among `keys` an erasure tombstoned, each with its erasure. One statement. */
export async function findTombstoned(tx: Tx, keys: readonly string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows = rowsOf<{ key: string } & RawRow<typeof erasureTombstones, 'erasureId'>>(
    await tx.execute(sql`
      select k.key, t.erasure_id as "erasureId" from unnest(${textArray([...new Set(keys)])}) as k(key)
      join erasure_tombstones t on t.hash = ${tombstoneHash(sql`k.key`)}`),
  );
  return new Map(rows.map((r) => [r.key, r.erasureId]));
}

/** What separates an address from the text around it ("Ines <ines@example.org>", "mailto:…"). */
const AROUND_EMAIL = /[\s<>"'(),;:[\]\\]+/;
/** Anchored, on one token: no backtracking across a long string. */
const EMAIL = /^[^@]+@[^@]+\.[^@.]{2,}$/;
const PHONE_LIKE = /^\+?[\d\s().\-/]{7,32}$/;
/** Longer strings are notes or documents, not an identifier a person could be recognised by. */
const MAX_SCANNED = 4096;
/** A record is at most AURUM_MAX_RECORD_BYTES; this bounds the walk of a pathological one too. */
const MAX_VALUES = 100_000;

/**
 * The email and phone keys a raw payload holds anywhere in its values, made the way mapping makes
 * them (emails lowercased, phones to E.164 with the default region), whatever field holds them: a
 * record that failed mapping has no fragment to read them from. Strings that look like neither are
 * skipped, so a key is only ever a value the person could be recognised by.
 */
export function payloadIdentifierKeys(payload: unknown, options: { defaultRegion?: string | undefined } = {}): string[] {
  const keys = new Set<string>();
  const stack: unknown[] = [payload];
  for (let seen = 0; stack.length > 0 && seen < MAX_VALUES; seen++) {
    const value = stack.pop();
    // One push per value: spreading an array of half a million into push() overflows the call stack.
    if (value !== null && typeof value === 'object') for (const inner of Object.values(value)) stack.push(inner);
    else if (typeof value === 'string' && value.length <= MAX_SCANNED) {
      if (value.includes('@')) {
        for (const token of value.split(AROUND_EMAIL)) if (EMAIL.test(token)) keys.add(`email:${token.toLowerCase()}`);
      }
      addPhone(keys, value, options.defaultRegion);
    } else if (typeof value === 'number' && Number.isInteger(value) && value > 999_999)
      addPhone(keys, String(value), options.defaultRegion);
  }
  return [...keys];
}

function addPhone(keys: Set<string>, text: string, region: string | undefined) {
  const trimmed = text.trim();
  if (!PHONE_LIKE.test(trimmed) || trimmed.replace(/\D/g, '').length < 7) return;
  const parsed = parsePhoneNumberFromString(trimmed, region as CountryCode | undefined);
  if (parsed?.isValid()) keys.add(`phone:${parsed.number}`);
}

/**
 * Records whose mapping failed, checked against the tombstones by the emails and phones their
 * payload holds (see `payloadIdentifierKeys`): a later record of an erased person is suppressed
 * whether or not it maps. Those that match have their payload (and original body) emptied, their
 * quarantine entries closed as erased, and are logged in `suppressions` as linking logs the
 * records it suppresses (`GET /erasures/:id/suppressions`). Returns their raw ids; the caller
 * quarantines none of them. Call it inside the resolution lock, as linking does, so an erasure
 * committed before it is always seen.
 */
export async function suppressUnmappedErased(
  tx: Tx,
  raws: readonly { rawId: number; source: string; payload: unknown }[],
  options: { defaultRegion?: string | undefined } = {},
): Promise<Set<number>> {
  const suppressed = new Set<number>();
  if (raws.length === 0) return suppressed;
  const keysOf = raws.map((r) => payloadIdentifierKeys(r.payload, options));
  const tombstoned = await findTombstoned(tx, keysOf.flat());
  if (tombstoned.size === 0) return suppressed;
  const rows: { erasureId: string; source: string; rawId: number; matched: string }[] = [];
  for (const [i, keys] of keysOf.entries()) {
    const hit = keys.find((k) => tombstoned.has(k));
    const raw = raws[i];
    if (!hit || !raw || suppressed.has(raw.rawId)) continue;
    suppressed.add(raw.rawId);
    rows.push({ erasureId: tombstoned.get(hit) as string, source: raw.source, rawId: raw.rawId, matched: keyKind(hit) });
  }
  await suppressRecords(tx, rows);
  return suppressed;
}

/**
 * Logs records of erased people as suppressed (`GET /erasures/:id/suppressions`) and empties them:
 * payload and original body, and the messages of their quarantine entries, which may quote a
 * value. The one way a suppression is written, whether linking or a failed mapping found it.
 */
export async function suppressRecords(
  tx: Tx,
  rows: readonly { erasureId: string; source: string; rawId: number; matched: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  const rawIds = bigintArray(rows.map((r) => r.rawId));
  await tx.execute(sql`
    insert into suppressions (erasure_id, source, raw_id, matched)
    select * from unnest(${uuidArray(rows.map((r) => r.erasureId))}, ${textArray(rows.map((r) => r.source))},
      ${rawIds}, ${textArray(rows.map((r) => r.matched))})`);
  await emptyRawRecords(
    tx,
    rows.map((r) => r.rawId),
  );
  // An earlier attempt (or a replay) may have quarantined it; its message may quote a value.
  await closeErasedEntries(
    tx,
    rows.map((r) => r.rawId),
  );
}

/** How many records each of these erasures suppressed (0 for one that suppressed none). */
export async function countSuppressions(db: Queryable, erasureIds: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(erasureIds.map((id) => [id, 0]));
  if (erasureIds.length === 0) return counts;
  const rows = rowsOf<RawRow<typeof suppressions, 'erasureId'> & { n: string | number }>(
    await db.execute(sql`
      select erasure_id as "erasureId", count(*) as n from suppressions
      where erasure_id = any(${uuidArray(erasureIds)}) group by erasure_id`),
  );
  for (const r of rows) counts.set(r.erasureId, Number(r.n));
  return counts;
}

/** The records an erasure suppressed, newest first: `limit` of them, below the id `below` where given. */
export async function listSuppressed(db: Queryable, erasureId: string, page: { limit: number; below?: number | undefined }) {
  return db
    .select({
      id: suppressions.id,
      at: suppressions.at,
      source: suppressions.source,
      rawId: suppressions.rawId,
      matched: suppressions.matched,
    })
    .from(suppressions)
    .where(and(eq(suppressions.erasureId, erasureId), page.below === undefined ? undefined : lt(suppressions.id, page.below)))
    .orderBy(desc(suppressions.id))
    .limit(page.limit);
}
