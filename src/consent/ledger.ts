import { sql } from 'drizzle-orm';
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

/** Every consent entry of the profile's member records, oldest first. */
export async function loadConsentLedger(db: Queryable, id: string): Promise<LedgerEntry[]> {
  // The check constraint holds `status` to these.
  return rowsOf<
    RawRow<typeof consentEntries, 'purpose' | 'at' | 'statedAt' | 'receivedAt' | 'source' | 'recordId' | 'mappingFile' | 'mappingHash'> & {
      status: 'granted' | 'denied';
    }
  >(
    await db.execute(sql`
      select ce.purpose, ce.status, ce.at, ce.stated_at as "statedAt", ce.received_at as "receivedAt", ce.source,
        ce.record_id as "recordId", ce.mapping_file as "mappingFile", ce.mapping_hash as "mappingHash"
      from consent_entries ce join source_records sr on sr.id = ce.record_pk
      where sr.profile_id = ${id} order by ce.at, ce.id`),
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
