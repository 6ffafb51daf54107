import { sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf } from '../db/database.ts';
import type { profiles, sourceRecords } from '../db/schema.ts';
import { bigintArray } from '../db/sql.ts';

/*
 * Reads of this module's source records and profile ids for the modules above it (compliance's
 * export, erasure and consent listing): they ask here rather than query `source_records` or
 * `profiles` themselves.
 */

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
>;

const RECORD_COLUMNS = sql`
  id, source, object, record_id as "recordId", profile_id as "profileId", raw_id as "rawId", fragment,
  mapping_file as "mappingFile", mapping_hash as "mappingHash", observed_at as "observedAt",
  source_updated_at as "sourceUpdatedAt", deleted_at as "deletedAt"`;

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
