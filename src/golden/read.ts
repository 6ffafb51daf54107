import { eq, sql } from 'drizzle-orm';
import { type LedgerEntry, ledgerOfRecords } from '../consent/ledger.ts';
import { type Queryable, type Raw, rowsOf } from '../db/database.ts';
import { goldenRecords, type profiles } from '../db/schema.ts';
import { textArray, uuidArray } from '../db/sql.ts';
import { capPage, runningBytes, withinPage } from '../http/page-bytes.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import type { Member } from '../resolution/memberships.ts';
import {
  manualMergesInto,
  memberRecordsOf,
  mergesInvolving,
  profileIdentities,
  profileIdsWithKeys,
  recordPksOfProfile,
} from '../resolution/read.ts';
import type { LinkExplanation } from '../resolution/score-candidates.ts';
import type { AccountGolden, Golden } from './build.ts';

export type ProfileView = { id: string } & Golden & { version: number; createdAt: string; updatedAt: string };
export type AccountView = { id: string } & AccountGolden & { version: number; createdAt: string; updatedAt: string };

type ProfileRow = Pick<typeof profiles.$inferSelect, 'id'> &
  Pick<typeof goldenRecords.$inferSelect, 'version' | 'goldenHash'> &
  Raw<Pick<typeof profiles.$inferSelect, 'createdAt'>> &
  Raw<Pick<typeof goldenRecords.$inferSelect, 'updatedAt'>> & { golden: Golden };

/**
 * Each profile beside its golden record, as a relation (`id, entity, seq, merged_into, erased_at,
 * created_at, updated_at, version, golden, golden_hash`). A profile with no golden record yet reads
 * as the defaults one starts from: version 0, `{}`, and its creation as its last change.
 */
const PROFILES_WITH_GOLDEN = sql`(
  select p.id, p.entity, p.seq, p.merged_into, p.erased_at, p.created_at,
    coalesce(g.updated_at, p.created_at) as updated_at, coalesce(g.version, 0) as version,
    coalesce(g.golden, '{}'::jsonb) as golden, coalesce(g.golden_hash, '') as golden_hash
  from ${profileIdentities} p left join golden_records g on g.profile_id = p.id)`;
/** The columns of a `ProfileRow`, named as it names them. */
const PROFILE_COLUMNS = sql`id, golden, version, created_at as "createdAt", updated_at as "updatedAt", golden_hash as "goldenHash"`;

const view = (row: ProfileRow): ProfileView => ({
  id: row.id,
  ...row.golden,
  version: row.version,
  createdAt: new Date(row.createdAt).toISOString(),
  updatedAt: new Date(row.updatedAt).toISOString(),
});

export async function loadProfiles(db: Queryable, ids: readonly string[]): Promise<(ProfileView & { hash: string })[]> {
  if (ids.length === 0) return [];
  return rowsOf<ProfileRow>(
    await db.execute(sql`
      select ${PROFILE_COLUMNS} from ${PROFILES_WITH_GOLDEN} pg
      where id = any(${uuidArray(ids)}) and merged_into is null order by seq`),
  ).map((row) => ({ ...view(row), hash: row.goldenHash }));
}

/** Active accounts, with the hash fan-out detects changes by. */
export async function loadAccounts(db: Queryable, ids: readonly string[]): Promise<(AccountView & { hash: string })[]> {
  return (await loadProfiles(db, ids)) as unknown as (AccountView & { hash: string })[];
}

/** Active accounts as the API shows them. */
export async function loadAccountViews(db: Queryable, ids: readonly string[]): Promise<AccountView[]> {
  return (await loadAccounts(db, ids)).map(({ hash: _hash, ...a }) => a);
}

/**
 * Each account's members as destinations were last told of them (`golden_records.members`, which the
 * golden stage stores with the member events it emits): the state member events converge to.
 */
export async function announcedMembers(db: Queryable, accountIds: readonly string[]): Promise<Map<string, Member[]>> {
  if (accountIds.length === 0) return new Map();
  const rows = rowsOf<Pick<typeof profiles.$inferSelect, 'id'> & { members: Member[] }>(
    await db.execute(sql`
      select p.id, coalesce(g.members, '[]'::jsonb) as members
      from ${profileIdentities} p left join golden_records g on g.profile_id = p.id
      where p.id = any(${uuidArray(accountIds)}) and p.entity = 'account'`),
  );
  return new Map(rows.map((r) => [r.id, r.members]));
}

/** Active profiles as the API shows them (without the internal change-detection hash). */
export async function loadProfileViews(db: Queryable, ids: readonly string[]): Promise<ProfileView[]> {
  return (await loadProfiles(db, ids)).map(({ hash: _hash, ...p }) => p);
}

/**
 * Profiles holding any of the match keys (`email:…`, `phone:…`, `ext:system:id`), oldest first, a
 * page at a time: at most `limit`, and at most MAX_PAGE_BYTES of golden records, totalled in the
 * database so a page of huge profiles never leaves it whole. `next` (a profile id, for `after`)
 * continues the page; `truncated` says the byte budget cut it.
 */
export async function findProfilesByKeys(
  db: Queryable,
  keys: readonly string[],
  page: { limit: number; after?: string },
  entity: Entity = 'person',
): Promise<{ profiles: ProfileView[]; next: string | null; truncated: boolean }> {
  // Resolution's subquery of the profiles holding the keys, composed so the page and its byte budget stay one statement.
  const rows = rowsOf<ProfileRow & { fetched: string | number }>(
    await db.execute(sql`
      select * from (
        select p.*, ${runningBytes(sql`octet_length(p.golden::text)`, sql`p.seq`)} as running_bytes, count(*) over () as fetched
        from (
          select ${PROFILE_COLUMNS}, seq from ${PROFILES_WITH_GOLDEN} pg
          where merged_into is null and entity = ${entity} and id in ${profileIdsWithKeys(keys)}
            ${page.after ? sql`and seq > (select a.seq from ${profileIdentities} a where a.id = ${page.after})` : sql``}
          order by seq limit ${page.limit + 1}) p) w
      where ${withinPage(sql`running_bytes`)} order by seq`),
  );
  const fetched = Number(rows[0]?.fetched ?? 0);
  const { items, truncated: cut } = capPage(rows.slice(0, page.limit).map(view));
  const truncated = cut || rows.length < Math.min(fetched, page.limit);
  const more = fetched > page.limit || truncated;
  return { profiles: items, next: more ? (items.at(-1)?.id ?? null) : null, truncated };
}

/** What `GET /profiles?q=` searches by: the match keys `q` could be, and the name it could be. */
export interface ProfileQuery {
  /** `email:…`, `phone:…`, `ext:system:id` keys; a profile holding one ranks first. */
  keys: readonly string[];
  /** Lowercased, spaces collapsed; empty for no name search. */
  name: string;
}

/** Where a listing page starts: after this rank and seq (ranks ascend, seqs descend). */
export type ProfilePosition = { rank: number; seq: number };

/** Trigrams of each word, padded with spaces as the name is, so word edges count. */
const trigrams = (name: string): string[] => {
  const grams = new Set<string>();
  for (const word of name.split(' ')) {
    const padded = ` ${word} `;
    for (let i = 0; i + 3 <= padded.length; i++) grams.add(padded.slice(i, i + 3));
  }
  return [...grams];
};
/**
 * A fuzzy name match shares this share of the query's trigrams. Hand-rolled rather than pg_trgm,
 * which PGlite does not load: 0.6 lets "lovelase" and "lovlace" find "Lovelace" (5 of 8 and 5 of 7).
 */
const FUZZY_SHARE = 0.6;
const FUZZY_MIN_LENGTH = 4;

/**
 * Live profiles (neither merged away nor erased), a page at a time, with the byte budget of
 * `findProfilesByKeys`. Without a query: newest first. With one, in three tiers, each newest first:
 * profiles holding one of its keys, then those with a name word starting with it, then those
 * sharing most of its trigrams. `next` is the position after the last profile sent.
 */
export async function listProfiles(
  db: Queryable,
  query: ProfileQuery | undefined,
  page: { limit: number; after?: ProfilePosition },
  entity: Entity = 'person',
): Promise<{ profiles: ProfileView[]; next: ProfilePosition | null; truncated: boolean }> {
  // An account's name is a string; a person's an object.
  const fullName =
    entity === 'account'
      ? sql`golden->>'name'`
      : sql`coalesce(golden->'name'->>'full', concat_ws(' ', golden->'name'->>'given', golden->'name'->>'family'))`;
  const name = sql`(' ' || regexp_replace(lower(${fullName}), '[[:space:]]+', ' ', 'g') || ' ')`;
  const grams = query && query.name.length >= FUZZY_MIN_LENGTH ? trigrams(query.name) : [];
  const tiers = [
    query && query.keys.length > 0 ? sql`when id in ${profileIdsWithKeys(query.keys)} then 0` : sql``,
    query?.name ? sql`when strpos(${name}, ${` ${query.name}`}) > 0 then 1` : sql``,
    grams.length > 0
      ? sql`when (select count(*) from unnest(${textArray(grams)}) g where strpos(${name}, g) > 0)
          >= ${Math.ceil(grams.length * FUZZY_SHARE)} then 2`
      : sql``,
  ];
  const rank = query ? sql`case ${sql.join(tiers, sql` `)} end` : sql`0`;
  const after = page.after ? sql`and (rank > ${page.after.rank} or (rank = ${page.after.rank} and seq < ${page.after.seq}))` : sql``;
  const rows = rowsOf<ProfileRow & Raw<Pick<typeof profiles.$inferSelect, 'seq'>> & { rank: number; fetched: string | number }>(
    await db.execute(sql`
      select * from (
        select p.*, ${runningBytes(sql`octet_length(p.golden::text)`, sql`p.rank, p.seq desc`)} as running_bytes,
          count(*) over () as fetched
        from (
          select * from (
            select ${PROFILE_COLUMNS}, seq, ${rank} as rank from ${PROFILES_WITH_GOLDEN} pg
            where merged_into is null and erased_at is null and entity = ${entity}) ranked
          where rank is not null ${after}
          order by rank, seq desc limit ${page.limit + 1}) p) w
      where ${withinPage(sql`running_bytes`)} order by rank, seq desc`),
  );
  const fetched = Number(rows[0]?.fetched ?? 0);
  const kept = rows.slice(0, page.limit);
  const { items, truncated: cut } = capPage(kept.map(view));
  const truncated = cut || rows.length < Math.min(fetched, page.limit);
  const more = fetched > page.limit || truncated;
  const last = kept[items.length - 1];
  return {
    profiles: items,
    next: more && last ? { rank: Number(last.rank), seq: Number(last.seq) } : null,
    truncated,
  };
}

/** The merges and splits a profile (or account) took part in, oldest first: `GET /profiles/:id/history`. */
export async function loadHistory(db: Queryable, id: string) {
  const rows = await mergesInvolving(db, id);
  return rows.map((r) => ({
    kind: r.kind,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    reason: r.reason,
    profile: r.survivorId,
    others: r.retiredIds,
    details: r.details,
  }));
}

/** A profile's (or account's) member records and how each was linked, and the forced merges that brought records in. */
export async function loadMatches(db: Queryable, id: string) {
  const rows = await memberRecordsOf(db, id);
  // Records that arrived on another profile and came here by a forced merge: say so.
  const manual = await manualMergesInto(db, id);
  return {
    id,
    members: rows.map((r) => ({
      source: r.source,
      object: r.object,
      recordId: r.recordId,
      linkedBy: (r.link as LinkExplanation | null) ?? { rule: 'record identity' },
    })),
    manualMerges: manual.map((m) => ({
      retiredIds: m.retiredIds,
      actor: m.actor,
      reason: m.reason,
      at: m.at.toISOString(),
    })),
  };
}

export async function loadLineage(db: Queryable, id: string): Promise<Record<string, unknown>> {
  // No row: no golden record built yet, whose lineage is empty.
  const [row] = await db.select({ lineage: goldenRecords.lineage }).from(goldenRecords).where(eq(goldenRecords.profileId, id));
  return (row?.lineage as Record<string, unknown> | undefined) ?? {};
}

export type { LedgerEntry } from '../consent/ledger.ts';

/**
 * Every consent entry of the profile's member records (deleted ones too), oldest first: the records
 * are resolution's to name, the entries consent's to read.
 */
export async function loadConsentLedger(db: Queryable, id: string): Promise<LedgerEntry[]> {
  return ledgerOfRecords(db, await recordPksOfProfile(db, id));
}
