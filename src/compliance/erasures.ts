import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../db/database.ts';
import { isUuid } from '../db/sql.ts';
import { afterTime, idPage, microsOf, type TimePosition, timePage } from '../http/keyset.ts';

const iso = (value: Date | string) => new Date(value).toISOString();

/** Erasures, newest first, each with how many records of the person arrived since and were suppressed. */
export async function listErasures(db: Db, page: { limit: number; after?: TimePosition }) {
  const { rows, next } = timePage(
    rowsOf<{
      id: string;
      profile_id: string;
      at: Date | string;
      actor: string;
      reason: string | null;
      records: number;
      raw_records: number;
      identifiers: number;
      suppressed: string | number;
      cursor_micros: string | number;
    }>(
      await db.execute(sql`
      select e.*, (select count(*) from suppressions s where s.erasure_id = e.id) as suppressed, ${microsOf(sql`e.at`)} as cursor_micros
      from erasures e where true ${afterTime(sql`e.at`, sql`e.id`, page.after)}
      order by e.at desc, e.id limit ${page.limit + 1}`),
    ),
    page.limit,
  );
  const erasures = rows.map((e) => ({
    id: e.id,
    profileId: e.profile_id,
    at: iso(e.at),
    actor: e.actor,
    reason: e.reason,
    records: e.records,
    rawRecords: e.raw_records,
    identifiers: e.identifiers,
    suppressed: Number(e.suppressed),
  }));
  return { erasures, next };
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
    rowsOf<{ id: string | number; at: Date | string; source: string; raw_id: string | number; matched: string }>(
      await db.execute(sql`
      select id, at, source, raw_id, matched from suppressions where erasure_id = ${erasureId}
        ${page.below === undefined ? sql`` : sql`and id < ${page.below}`}
      order by id desc limit ${page.limit + 1}`),
    ),
    page.limit,
  );
  return {
    erasureId,
    total: Number(erasure.n),
    suppressions: rows.map((r) => ({ id: Number(r.id), at: iso(r.at), source: r.source, rawId: Number(r.raw_id), matched: r.matched })),
    next,
  };
}
