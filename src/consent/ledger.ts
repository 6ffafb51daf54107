import { type SQL, sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { consentEntries } from '../db/schema.ts';
import { bigintArray, textArray, timestampArray, uuidArray } from '../db/sql.ts';

/** One entry of a profile's consent ledger, as the API and the export show it. */
export interface LedgerEntry {
  purpose: string;
  status: 'granted' | 'denied';
  /** When the statement was made, never after its record was received. */
  at: string;
  /**
   * The time the source stated, where it was after the record's receipt and `at` was capped there
   * (a grant dated 2099 is dated at its receipt); null where the stated time stands.
   */
  statedAt: string | null;
  receivedAt: string;
  source: string;
  recordId: string;
  mapping: string;
  mappingHash: string;
}

/**
 * Every consent entry of the records `recordPks`, oldest first. Consent sits below resolution: which
 * records are a profile's, the caller asks resolution (golden/read.ts `loadConsentLedger`).
 */
export async function ledgerOfRecords(db: Queryable, recordPks: readonly number[]): Promise<LedgerEntry[]> {
  if (recordPks.length === 0) return [];
  // The check constraint holds `status` to these.
  return rowsOf<
    RawRow<typeof consentEntries, 'purpose' | 'at' | 'statedAt' | 'receivedAt' | 'source' | 'recordId' | 'mappingFile' | 'mappingHash'> & {
      status: 'granted' | 'denied';
    }
  >(
    await db.execute(sql`
      select ce.purpose, ce.status, ce.at, ce.stated_at as "statedAt", ce.received_at as "receivedAt", ce.source,
        ce.record_id as "recordId", ce.mapping_file as "mappingFile", ce.mapping_hash as "mappingHash"
      from consent_entries ce where ce.record_pk = any(${bigintArray(recordPks)}) order by ce.at, ce.id`),
  ).map((r) => ({
    purpose: r.purpose,
    status: r.status,
    at: new Date(r.at).toISOString(),
    statedAt: r.statedAt === null ? null : new Date(r.statedAt).toISOString(),
    receivedAt: new Date(r.receivedAt).toISOString(),
    source: r.source,
    recordId: r.recordId,
    mapping: r.mappingFile,
    mappingHash: r.mappingHash,
  }));
}

/** A statement of the ledger, with the record it is of, as golden records are built from it. */
export type RecordStatement = RawRow<typeof consentEntries, 'recordPk' | 'purpose' | 'at' | 'source' | 'recordId'> & {
  status: 'granted' | 'denied';
};

/** The statements of the records `recordPks`, in no particular order: one statement for a batch. */
export async function statementsOfRecords(db: Queryable, recordPks: readonly number[]): Promise<RecordStatement[]> {
  if (recordPks.length === 0) return [];
  return rowsOf<RecordStatement>(
    await db.execute(sql`
      select record_pk as "recordPk", purpose, status, at, source, record_id as "recordId"
      from consent_entries where record_pk = any(${bigintArray(recordPks)})`),
  );
}

/**
 * The statements of the records `recordPks` (a subquery of record ids, composed by the caller) as a
 * JSON array of `{purpose, status, at, source, recordId}`, `[]` for none: for a statement that
 * judges many deliveries at once (delivery's consent gate).
 */
export const ledgerJsonOf = (recordPks: SQL): SQL => sql`coalesce((
  select json_agg(json_build_object('purpose', ce.purpose, 'status', ce.status, 'at', ce.at, 'source', ce.source, 'recordId', ce.record_id))
  from consent_entries ce where ce.record_pk in ${recordPks}), '[]'::json)`;

/**
 * Locks the ledger in SHARE mode to the end of the transaction: waits for the transactions writing
 * entries (a withdrawal linked, an erasure) to commit, and makes the next ones wait (the consent gate).
 */
export async function lockLedgerShared(tx: Tx): Promise<void> {
  await tx.execute(sql`lock table consent_entries in share mode`);
}

/** A consent statement of a record, as linking appends it to the ledger (this module's table). */
export interface ConsentStatementRow {
  recordPk: string;
  source: string;
  recordId: string;
  purpose: string;
  status: 'granted' | 'denied';
  at: string;
  statedAt: string | null;
  mappingFile: string;
  mappingHash: string;
}

/** Appends statements to the ledger, one statement for the batch; a statement already there is not repeated. */
export async function appendConsent(tx: Tx, rows: readonly ConsentStatementRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.execute(sql`
    insert into consent_entries (record_pk, source, record_id, purpose, status, at, stated_at, mapping_file, mapping_hash)
    select * from unnest(
      ${sql.param(rows.map((c) => c.recordPk))}::bigint[], ${textArray(rows.map((c) => c.source))},
      ${textArray(rows.map((c) => c.recordId))}, ${textArray(rows.map((c) => c.purpose))},
      ${textArray(rows.map((c) => c.status))}, ${timestampArray(rows.map((c) => c.at))},
      ${timestampArray(rows.map((c) => c.statedAt))},
      ${textArray(rows.map((c) => c.mappingFile))}, ${textArray(rows.map((c) => c.mappingHash))})
    on conflict do nothing`);
}

/** The entry that decides a purpose's status, with the status the check constraint holds it to. */
export type DecidingEntry = RawRow<typeof consentEntries, 'at' | 'statedAt' | 'receivedAt' | 'source' | 'recordId' | 'mappingFile'> & {
  status: 'granted' | 'denied';
};

/**
 * For each profile, the entry of its records that decides `purpose`: the latest; at equal times a
 * denial, then the entry stored last. The caller names each profile's records; a profile none of
 * whose records has an entry for the purpose is absent from the map.
 */
export async function decidingEntries(
  db: Queryable,
  purpose: string,
  profiles: readonly { profileId: string; recordPks: readonly number[] }[],
): Promise<Map<string, DecidingEntry>> {
  const records = profiles.flatMap((p) => p.recordPks.map((recordPk) => ({ recordPk, profileId: p.profileId })));
  if (records.length === 0) return new Map();
  const rows = rowsOf<DecidingEntry & { profileId: string }>(
    await db.execute(sql`
      select distinct on (m.profile_id) m.profile_id as "profileId", ce.status, ce.at, ce.stated_at as "statedAt",
        ce.received_at as "receivedAt", ce.source, ce.record_id as "recordId", ce.mapping_file as "mappingFile"
      from consent_entries ce
      join unnest(${bigintArray(records.map((r) => r.recordPk))}, ${uuidArray(records.map((r) => r.profileId))}) as m(record_pk, profile_id)
        on m.record_pk = ce.record_pk
      where ce.purpose = ${purpose}
      order by m.profile_id, ce.at desc, (ce.status = 'denied') desc, ce.id desc`),
  );
  return new Map(rows.map(({ profileId, ...entry }) => [profileId, entry]));
}
