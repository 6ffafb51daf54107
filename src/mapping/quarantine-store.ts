import { type SQL, sql } from 'drizzle-orm';
import { type Queryable, rowsOf, type Tx } from '../db/database.ts';
import { bigintArray, textArray } from '../db/sql.ts';
import { type ImportRange, QUARANTINE_COUNT_CAP, rawIdsOfImport } from '../intake/imports-store.ts';
import { type MappingFailure, QUARANTINE_CODES, type QuarantineCode } from './apply.ts';

/*
 * The quarantine table is this module's: every stage that quarantines a record, flags it, or
 * closes its entries does it through these functions.
 */

/** Violations a record was processed with: one flag per record and kind, however often it is processed. */
export async function flagViolations(tx: Tx, flags: { rawId: number; source: string; code: QuarantineCode }[]) {
  if (flags.length === 0) return;
  await tx.execute(sql`
    insert into quarantine (raw_id, source, code, message, status)
    select r, s, c, m, 'flagged'
    from unnest(${bigintArray(flags.map((f) => f.rawId))}, ${textArray(flags.map((f) => f.source))},
      ${textArray(flags.map((f) => f.code))}, ${textArray(flags.map((f) => QUARANTINE_CODES[f.code]))}) as f(r, s, c, m)
    on conflict (raw_id, code) where status = 'flagged' do nothing`);
}

/** Each attempt at a raw record replaces its open quarantine entries: a fixed mapping clears them. */
export async function quarantineFailures(tx: Tx, rawIds: number[], failures: MappingFailure[]) {
  await tx.execute(sql`
    update quarantine set status = 'resolved', resolved_at = now()
    where status = 'open' and raw_id = any(${bigintArray(rawIds)})`);
  if (failures.length === 0) return;
  await tx.execute(sql`
    insert into quarantine (raw_id, source, mapping_file, code, message)
    select * from unnest(${bigintArray(failures.map((f) => f.rawId))}, ${textArray(failures.map((f) => f.source))},
      ${sql.param(failures.map((f) => f.mappingFile))}::text[], ${textArray(failures.map((f) => f.code))},
      ${textArray(failures.map((f) => f.message))})`);
}

/** Objects a webhook named that could not be fetched from the vendor (missing or refused credentials): visible and replayable. */
export async function quarantineFetchFailed(db: Queryable, source: string, rawIds: readonly number[], reason: string) {
  await db.execute(sql`
    insert into quarantine (raw_id, source, mapping_file, code, message)
    select id, ${source}, null, 'fetch_failed', ${`${QUARANTINE_CODES.fetch_failed}: ${reason}`}
    from unnest(${bigintArray(rawIds)}) as id`);
}

/** Fetched now: earlier failures to fetch these records are resolved. */
export async function resolveFetchFailed(tx: Tx, rawIds: readonly number[]) {
  await tx.execute(sql`
    update quarantine set status = 'resolved', resolved_at = now()
    where status = 'open' and code = 'fetch_failed' and raw_id = any(${bigintArray(rawIds)})`);
}

/** Entries of an erased person's records: their messages may quote a value, so they are replaced, and the entries closed. */
export async function closeErasedEntries(tx: Tx, rawIds: readonly number[]) {
  await tx.execute(sql`
    update quarantine set message = 'erased', status = 'resolved', resolved_at = coalesce(resolved_at, now())
    where raw_id = any(${bigintArray(rawIds)})`);
}

/**
 * The raw records with a quarantine entry of a failure (open or resolved since), not a mere flag, as
 * a subquery for the raw store's own statements: a hub's quarantine may hold hundreds of thousands.
 */
export const failedRawIdsQuery = (): SQL => sql`select raw_id from quarantine where status <> 'flagged'`;

/**
 * An import's raw records with an open entry, counted up to one past `QUARANTINE_COUNT_CAP`
 * (`GET /imports/:id`). The import's records lie between its first and last raw id, so the scan walks
 * the quarantine's raw_id index over that range only, on both sides of the join (intake's subquery
 * of the import's raw ids; entries of other sources' records that arrived meanwhile are skipped on
 * the way), and stops at the cap. The former join from raw_records by intake_id took over 60 s with
 * 313k open entries: it counted them all, distinct, on every poll of `aurum import`.
 */
export async function countQuarantinedOfImport(db: Queryable, imp: ImportRange): Promise<number> {
  const [row] = rowsOf<{ n: string | number }>(
    await db.execute(sql`
      select count(*) as n from (
        select distinct q.raw_id from quarantine q join ${rawIdsOfImport(imp)} r on r.id = q.raw_id
        where q.raw_id between ${imp.firstRawId} and ${imp.lastRawId} and q.status = 'open'
        limit ${QUARANTINE_COUNT_CAP + 1}) capped`),
  );
  return Number(row?.n ?? 0);
}
