import { and, eq, type SQL, sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf } from '../db/database.ts';
import { profileMerges, sourceRecords } from '../db/schema.ts';
import { textArray, uuidArray } from '../db/sql.ts';
import type { Profile } from '../mapping/profile.ts';

/*
 * What the stages after resolution read of its tables (source_records, record_keys,
 * profile_merges): they call these, and never name the tables themselves. The functions that
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
