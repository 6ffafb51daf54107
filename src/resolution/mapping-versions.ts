import { type SQL, sql } from 'drizzle-orm';
import { type Queryable, type Raw, rowsOf } from '../db/database.ts';
import type { sourceRecords } from '../db/schema.ts';
import { textArray } from '../db/sql.ts';

/** A mapping in force: what it maps (a source's object) and the hash of its text. */
export interface MappingVersion {
  source: string;
  object: string;
  hash: string;
}

/**
 * Records whose source's object a mapping in force maps, by another version of it than the one that
 * mapped them. By hash alone: `mapping_file` is the path as the hub was started (relative to its
 * working directory), and a file renamed maps as it did. Deleted records count: what changed may
 * be the `deleted:` predicate. Records of an object no mapping maps any more (a mapping removed, an
 * object renamed) keep what they were mapped to.
 */
const mappedBefore = (current: readonly MappingVersion[]): SQL => sql`exists (
  select 1 from unnest(${textArray(current.map((m) => m.source))}, ${textArray(current.map((m) => m.object))},
    ${textArray(current.map((m) => m.hash))}) as m(source, object, hash)
  where m.source = sr.source and m.object = sr.object and m.hash <> sr.mapping_hash)`;

export async function countRecordsMappedBefore(db: Queryable, current: readonly MappingVersion[]): Promise<number> {
  const [row] = rowsOf<{ n: string | number }>(
    await db.execute(sql`select count(*) as n from source_records sr where ${mappedBefore(current)}`),
  );
  return Number(row?.n ?? 0);
}

/** Up to `limit` of those records with ids after `afterId`, in id order, with the raw record each was last mapped from. */
export async function recordsMappedBefore(
  db: Queryable,
  current: readonly MappingVersion[],
  afterId: number,
  limit: number,
): Promise<{ id: number; rawId: number }[]> {
  return rowsOf<Raw<Pick<typeof sourceRecords.$inferSelect, 'id' | 'rawId'>>>(
    await db.execute(sql`
      select sr.id, sr.raw_id as "rawId" from source_records sr
      where sr.id > ${afterId} and ${mappedBefore(current)} order by sr.id limit ${limit}`),
  ).map((r) => ({ id: Number(r.id), rawId: Number(r.rawId) }));
}
