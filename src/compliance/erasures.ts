import { eq, sql } from 'drizzle-orm';
import { type Db, type RawRow, rowsOf } from '../db/database.ts';
import { erasures } from '../db/schema.ts';
import { isUuid } from '../db/sql.ts';
import { afterTime, idPage, microsOf, type TimePosition, timePage } from '../http/keyset.ts';
import { countSuppressions, listSuppressed } from '../resolution/tombstones.ts';

const iso = (value: Date | string) => new Date(value).toISOString();

/** Erasures, newest first, each with how many records of the person arrived since and were suppressed. */
export async function listErasures(db: Db, page: { limit: number; after?: TimePosition }) {
  const { rows, next } = timePage(
    rowsOf<
      RawRow<typeof erasures, 'id' | 'profileId' | 'at' | 'actor' | 'reason' | 'records' | 'rawRecords' | 'identifiers'> & {
        cursor_micros: string | number;
      }
    >(
      await db.execute(sql`
      select e.id, e.profile_id as "profileId", e.at, e.actor, e.reason, e.records, e.raw_records as "rawRecords", e.identifiers,
        ${microsOf(sql`e.at`)} as cursor_micros
      from erasures e where true ${afterTime(sql`e.at`, sql`e.id`, page.after)}
      order by e.at desc, e.id limit ${page.limit + 1}`),
    ),
    page.limit,
  );
  // The suppressions are resolution's: it logs them as it links.
  const suppressed = await countSuppressions(
    db,
    rows.map((e) => e.id),
  );
  const listed = rows.map((e) => ({
    id: e.id,
    profileId: e.profileId,
    at: iso(e.at),
    actor: e.actor,
    reason: e.reason,
    records: e.records,
    rawRecords: e.rawRecords,
    identifiers: e.identifiers,
    suppressed: suppressed.get(e.id) ?? 0,
  }));
  return { erasures: listed, next };
}

/** The records an erasure suppressed: when, from which source, which raw record, recognised by what. */
export async function listSuppressions(db: Db, erasureId: string, page: { limit: number; below?: number }) {
  if (!isUuid(erasureId)) return undefined;
  const [erasure] = await db.select({ id: erasures.id }).from(erasures).where(eq(erasures.id, erasureId));
  if (!erasure) return undefined;
  const total = (await countSuppressions(db, [erasureId])).get(erasureId) ?? 0;
  const { rows, next } = idPage(await listSuppressed(db, erasureId, { limit: page.limit + 1, below: page.below }), page.limit);
  return {
    erasureId,
    total,
    suppressions: rows.map((r) => ({ id: r.id, at: iso(r.at), source: r.source, rawId: r.rawId, matched: r.matched })),
    next,
  };
}
