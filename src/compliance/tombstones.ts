import { type SQL, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/database.ts';
import { textArray } from '../db/sql.ts';
import type { Profile } from '../mapping/profile.ts';
import { matchKeys, recordIdentity } from '../resolution/keys.ts';

/**
 * The salted hash of an identity key, computed in SQL: linking checks a batch against the
 * tombstones in one statement, without fetching the salt. No salt yet (no erasure yet): null,
 * which matches nothing.
 */
export const tombstoneHash = (key: SQL) =>
  sql`encode(sha256(convert_to((select salt from erasure_salt where id = 1) || ${key}, 'UTF8')), 'hex')`;

/** What identifies a record's person: its own identity, its emails, phones, external ids and national id. */
export function tombstoneKeys(
  record: { source: string; object: string; recordId: string },
  profile: Profile,
  blocked: ReadonlySet<string>,
): string[] {
  const keys = [recordIdentity(record), ...matchKeys(profile, blocked)];
  for (const [system, id] of Object.entries(profile.externalIds ?? {})) {
    if (!blocked.has(id.toLowerCase())) keys.push(`ext:${system}:${id}`);
  }
  if (profile.nationalId && !blocked.has(profile.nationalId.toLowerCase())) keys.push(`nid:${profile.nationalId}`);
  return keys;
}

/** The kind of identifier a key is, for the suppression log: `rec`, `email`, `phone`, `ext` or `nid`. */
export const keyKind = (key: string) => key.slice(0, key.indexOf(':'));

/** The keys among `keys` an erasure tombstoned, each with its erasure. One statement. */
export async function findTombstoned(tx: Tx, keys: readonly string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows = rowsOf<{ key: string; erasure_id: string }>(
    await tx.execute(sql`
      select k.key, t.erasure_id from unnest(${textArray([...new Set(keys)])}) as k(key)
      join erasure_tombstones t on t.hash = ${tombstoneHash(sql`k.key`)}`),
  );
  return new Map(rows.map((r) => [r.key, r.erasure_id]));
}
