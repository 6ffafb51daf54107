import { sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf } from '../db/database.ts';
import type { profiles, sourceRecords } from '../db/schema.ts';
import { bigintArray } from '../db/sql.ts';

/*
 * Reads of this module's source records and profile ids for the modules above it (compliance's
 * export and erasure): they ask here rather than query `source_records` or `profiles` themselves.
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
