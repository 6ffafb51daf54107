import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { type Db, type RawRow, rowsOf } from '../db/database.ts';
import { type erasures, suppressions } from '../db/schema.ts';
import { isUuid } from '../db/sql.ts';
import { afterTime, idPage, microsOf, type TimePosition, timePage } from '../http/keyset.ts';

const iso = (value: Date | string) => new Date(value).toISOString();

/** Erasures, newest first, each with how many records of the person arrived since and were suppressed. */
export async function listErasures(db: Db, page: { limit: number; after?: TimePosition }) {
  const { rows, next } = timePage(
    rowsOf<
      RawRow<typeof erasures, 'id' | 'profileId' | 'at' | 'actor' | 'reason' | 'records' | 'rawRecords' | 'identifiers'> & {
        suppressed: string | number;
        cursor_micros: string | number;
      }
    >(
      await db.execute(sql`
      select e.id, e.profile_id as "profileId", e.at, e.actor, e.reason, e.records, e.raw_records as "rawRecords", e.identifiers,
        (select count(*) from suppressions s where s.erasure_id = e.id) as suppressed, ${microsOf(sql`e.at`)} as cursor_micros
      from erasures e where true ${afterTime(sql`e.at`, sql`e.id`, page.after)}
      order by e.at desc, e.id limit ${page.limit + 1}`),
    ),
    page.limit,
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
    suppressed: Number(e.suppressed),
  }));
  return { erasures: listed, next };
}

/** The records an erasure suppressed: when, from which source, which raw record, recognised by what. */
export async function listSuppressions(db: Db, erasureId: string, page: { limit: number; below?: number }) {
  if (!isUuid(erasureId)) return undefined;
  const [erasure] = rowsOf<{ n: string | number }>(
    await db.execute(
      sql`select (select count(*) from suppressions where erasure_id = ${erasureId}) as n from erasures where id = ${erasureId}`,
    ),
  );
  if (!erasure) return undefined;
  const { rows, next } = idPage(
    await db
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
      .limit(page.limit + 1),
    page.limit,
  );
  return {
    erasureId,
    total: Number(erasure.n),
    suppressions: rows.map((r) => ({ id: r.id, at: iso(r.at), source: r.source, rawId: r.rawId, matched: r.matched })),
    next,
  };
}
