import { and, eq, isNull, type SQL, sql } from 'drizzle-orm';
import { type Queryable, type Raw, type RawRow, rowsOf } from '../db/database.ts';
import { profileMerges, profiles, sourceRecords } from '../db/schema.ts';
import { bigintArray, isUuid, textArray, uuidArray } from '../db/sql.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import type { Profile } from '../mapping/profile.ts';
import type { Violation } from '../mapping/violations.ts';

/*
 * What the modules after resolution (golden, delivery, compliance) read of its tables (profiles,
 * source_records, record_keys, profile_merges): they call these, and never name the tables themselves. The functions that
 * return SQL are subqueries to compose into the caller's own statement, where a second query would
 * cost a round trip the caller cannot spare (each says why); the text over the tables stays here.
 */

/** The profiles whose records hold any of the match keys (`email:…`, `phone:…`, `ext:system:id`), as a subquery of ids. */
export const profileIdsWithKeys = (keys: readonly string[]): SQL =>
  sql`(select sr.profile_id from record_keys rk join source_records sr on sr.id = rk.record_pk where rk.key = any(${textArray(keys)}))`;

/** A profile's live records (not deleted at their source), as a subquery of their ids; `profileId` is an SQL expression. */
export const liveRecordPksOf = (profileId: SQL): SQL =>
  sql`(select sr.id from source_records sr where sr.profile_id = ${profileId} and sr.deleted_at is null)`;

/** A live member record of a profile, as the golden stage builds from it. */
export type LiveMember = RawRow<
  typeof sourceRecords,
  'id' | 'profileId' | 'source' | 'object' | 'recordId' | 'sourceUpdatedAt' | 'observedAt' | 'mappingFile' | 'mappingHash'
> & { fragment: Profile };

/** The live records (not deleted at their source) of `profileIds`, in the order they arrived: one statement for a batch. */
export async function liveMembersOf(db: Queryable, profileIds: readonly string[]): Promise<LiveMember[]> {
  return rowsOf<LiveMember>(
    await db.execute(sql`
      select id, profile_id as "profileId", source, object, record_id as "recordId", fragment,
        source_updated_at as "sourceUpdatedAt", observed_at as "observedAt", mapping_file as "mappingFile", mapping_hash as "mappingHash"
      from source_records where profile_id = any(${uuidArray(profileIds)}) and deleted_at is null order by id`),
  );
}

/** The ids of every record of a profile, deleted ones too, in the order they arrived. */
export async function recordPksOfProfile(db: Queryable, profileId: string): Promise<number[]> {
  const rows = await db
    .select({ id: sourceRecords.id })
    .from(sourceRecords)
    .where(eq(sourceRecords.profileId, profileId))
    .orderBy(sourceRecords.id);
  return rows.map((r) => r.id);
}

/** A profile's member records, in the order they arrived, with how each was linked. */
export async function memberRecordsOf(db: Queryable, profileId: string) {
  return db
    .select({ source: sourceRecords.source, object: sourceRecords.object, recordId: sourceRecords.recordId, link: sourceRecords.link })
    .from(sourceRecords)
    .where(eq(sourceRecords.profileId, profileId))
    .orderBy(sourceRecords.id);
}

/** The forced merges a profile survived, oldest first. */
export async function manualMergesInto(db: Queryable, survivorId: string) {
  return db
    .select({ retiredIds: profileMerges.retiredIds, actor: profileMerges.actor, reason: profileMerges.reason, at: profileMerges.at })
    .from(profileMerges)
    .where(and(eq(profileMerges.survivorId, survivorId), eq(profileMerges.kind, 'manual')))
    .orderBy(profileMerges.id);
}

/**
 * The merges and splits a profile (or account) took part in, oldest first: as survivor, as one of
 * those retired, or as the id a profile it absorbed later survived under.
 */
export async function mergesInvolving(db: Queryable, id: string) {
  return rowsOf<RawRow<typeof profileMerges, 'kind' | 'survivorId' | 'retiredIds' | 'details' | 'actor' | 'reason' | 'at'>>(
    await db.execute(sql`
      select kind, survivor_id as "survivorId", retired_ids as "retiredIds", details, actor, reason, at from profile_merges
      where survivor_id = ${id} or ${id} = any(retired_ids)
        or survivor_id in (select id from profiles where merged_into = ${id})
      order by at, id`),
  );
}

/**
 * Every profile's identity (`id, entity, seq, created_at, merged_into, erased_at`), as a subquery
 * to join: golden reads each golden record beside its profile in one statement, a page or a
 * batch at a time, where a second query per page would be a round trip the hot path cannot spare.
 */
export const profileIdentities: SQL = sql`(select id, entity, seq, created_at, merged_into, erased_at from profiles)`;

/** The active profile for an id; a retired id answers with the profile it was merged into. */
export async function resolveProfileId(db: Queryable, id: string, entity: Entity = 'person'): Promise<string | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db
    .select({ id: profiles.id, mergedInto: profiles.mergedInto })
    .from(profiles)
    .where(and(eq(profiles.id, id), isNull(profiles.erasedAt), eq(profiles.entity, entity)));
  return row ? (row.mergedInto ?? row.id) : undefined;
}

/** Those of `ids` that are erased profiles. */
export async function erasedAmong(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = rowsOf<RawRow<typeof profiles, 'id'>>(
    await db.execute(sql`select id from profiles where id = any(${uuidArray(ids)}) and erased_at is not null`),
  );
  return new Set(rows.map((r) => r.id));
}

/** Live profiles (not merged away) after `afterSeq`, in creation order: a rebuild's next page. */
export async function profilesAfter(db: Queryable, afterSeq: number, limit: number): Promise<{ seq: number; id: string }[]> {
  return rowsOf<Raw<Pick<typeof profiles.$inferSelect, 'seq' | 'id'>>>(
    await db.execute(sql`select seq, id::text from profiles where merged_into is null and seq > ${afterSeq} order by seq limit ${limit}`),
  ).map((r) => ({ seq: Number(r.seq), id: r.id }));
}

/** Live profiles (neither merged away nor erased) of `entities`, counted: a backfill's total. */
export async function countLiveOf(db: Queryable, entities: readonly string[]): Promise<number> {
  return db.$count(
    profiles,
    and(isNull(profiles.mergedInto), isNull(profiles.erasedAt), sql`${profiles.entity} = any(${textArray(entities)})`),
  );
}

/** Live profiles (neither merged away nor erased) of `entities` after `afterId`, in id order: a backfill's next page. */
export async function liveProfilesAfter(
  db: Queryable,
  entities: readonly string[],
  afterId: string | null,
  limit: number,
): Promise<RawRow<typeof profiles, 'id' | 'entity'>[]> {
  return rowsOf<RawRow<typeof profiles, 'id' | 'entity'>>(
    await db.execute(sql`
      select id, entity from profiles where merged_into is null and erased_at is null and entity = any(${textArray(entities)})
        ${afterId ? sql`and id > ${afterId}` : sql``}
      order by id limit ${limit}`),
  );
}

export async function countLiveProfiles(db: Queryable): Promise<number> {
  return db.$count(profiles, isNull(profiles.mergedInto));
}

/*
 * Subqueries over profiles for delivery's per-send statements (the claim, the consent gate): each
 * takes the profile id as an SQL expression of the caller's statement. Composed there because a
 * second query would be a round trip per claimed delivery, or inside the gate's lock.
 */

/** Whether the profile `profileId` was merged away. */
export const isMergedAway = (profileId: SQL): SQL =>
  sql`exists (select 1 from profiles gp where gp.id = ${profileId} and gp.merged_into is not null)`;

/** The ids merged into the profile `profileId`, as a subquery. */
export const idsMergedInto = (profileId: SQL): SQL => sql`(select gm.id from profiles gm where gm.merged_into = ${profileId})`;

/**
 * The profile `profileId` as delivery judges it, a subquery to join laterally (no row for an
 * unknown id): `liveId`, the profile its records are on now (its survivor if it was merged away),
 * and `erased`, whether it or that survivor is erased.
 */
export const standingOf = (profileId: SQL): SQL => sql`(
  select coalesce(gp.merged_into, gp.id) as "liveId", (gp.erased_at is not null or gs.erased_at is not null) as erased
  from profiles gp left join profiles gs on gs.id = gp.merged_into where gp.id = ${profileId})`;

/** A source record as the export shows it and the erasure reads it. */
export type StoredRecord = RawRow<
  typeof sourceRecords,
  | 'id'
  | 'source'
  | 'object'
  | 'recordId'
  | 'profileId'
  | 'rawId'
  | 'fragment'
  | 'mappingFile'
  | 'mappingHash'
  | 'observedAt'
  | 'sourceUpdatedAt'
  | 'deletedAt'
> & { violations: Violation[] | null };

const RECORD_COLUMNS = sql`
  id, source, object, record_id as "recordId", profile_id as "profileId", raw_id as "rawId", fragment,
  mapping_file as "mappingFile", mapping_hash as "mappingHash", observed_at as "observedAt",
  source_updated_at as "sourceUpdatedAt", deleted_at as "deletedAt", violations`;

/** Every record of a profile, deleted ones too, in the order they were first stored. */
export async function recordsOfProfile(db: Queryable, profileId: string): Promise<StoredRecord[]> {
  return rowsOf<StoredRecord>(
    await db.execute(sql`select ${RECORD_COLUMNS} from source_records where profile_id = ${profileId} order by id`),
  );
}

/** The records a source knows by `recordId`, one per object type, in object order. */
export async function recordsBySourceId(db: Queryable, source: string, recordId: string): Promise<StoredRecord[]> {
  return rowsOf<StoredRecord>(
    await db.execute(sql`
      select ${RECORD_COLUMNS} from source_records where source = ${source} and record_id = ${recordId} order by object`),
  );
}

/** Violations of the records in force, counted per source, field and kind. */
export interface ViolationCount {
  source: string;
  field: string;
  kind: string;
  /** The values dropped. */
  violations: number;
  /** The records they were dropped from. */
  records: number;
}

/**
 * The values dropped from the records held now (not those deleted at their source), counted per
 * source, field and kind, in that order; a record mapped again counts with its latest version only.
 */
export async function countViolations(db: Queryable, filter: { source?: string; field?: string }): Promise<ViolationCount[]> {
  const rows = rowsOf<Raw<ViolationCount>>(
    await db.execute(sql`
      select sr.source, v->>'field' as field, v->>'kind' as kind, count(*) as violations, count(distinct sr.id) as records
      from source_records sr cross join lateral jsonb_array_elements(sr.violations) v
      where sr.violations is not null and sr.deleted_at is null
        ${filter.source === undefined ? sql`` : sql`and sr.source = ${filter.source}`}
        ${filter.field === undefined ? sql`` : sql`and v->>'field' = ${filter.field}`}
      group by 1, 2, 3 order by 1, 2, 3`),
  );
  return rows.map((r) => ({ ...r, violations: Number(r.violations), records: Number(r.records) }));
}

/** The profiles retired into `id` by merges (a redirect is kept one hop long: see `retire`). */
export async function retiredInto(db: Queryable, id: string): Promise<string[]> {
  return rowsOf<RawRow<typeof profiles, 'id'>>(await db.execute(sql`select id from profiles where merged_into = ${id}`)).map((r) => r.id);
}

/** Those of `rawIds` that a source record holds as its current version. */
export async function linkedRawIds(db: Queryable, rawIds: readonly number[]): Promise<Set<number>> {
  if (rawIds.length === 0) return new Set();
  const rows = rowsOf<RawRow<typeof sourceRecords, 'rawId'>>(
    await db.execute(sql`select distinct raw_id as "rawId" from source_records where raw_id = any(${bigintArray(rawIds)})`),
  );
  return new Set(rows.map((r) => Number(r.rawId)));
}

/**
 * Live persons (neither merged nor erased) with at least one live record, after `after` in id
 * order: `limit` of them, each with the ids of its live records.
 */
export async function livePersonsAfter(
  db: Queryable,
  page: { after?: string | undefined; limit: number },
): Promise<{ profileId: string; recordPks: number[] }[]> {
  const rows = rowsOf<RawRow<typeof sourceRecords, 'id' | 'profileId'>>(
    await db.execute(sql`
      with page as (
        select p.id from profiles p
        where p.merged_into is null and p.erased_at is null and p.entity = 'person'
          and exists (select 1 from source_records m where m.profile_id = p.id and m.deleted_at is null)
          ${page.after ? sql`and p.id > ${page.after}::uuid` : sql``}
        order by p.id limit ${page.limit})
      select m.profile_id as "profileId", m.id from page join source_records m on m.profile_id = page.id and m.deleted_at is null
      order by m.profile_id, m.id`),
  );
  const persons: { profileId: string; recordPks: number[] }[] = [];
  for (const r of rows) {
    const last = persons.at(-1);
    if (last?.profileId === r.profileId) last.recordPks.push(Number(r.id));
    else persons.push({ profileId: r.profileId, recordPks: [Number(r.id)] });
  }
  return persons;
}
