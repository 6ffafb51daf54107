import { sql } from 'drizzle-orm';
import type { LedgerEntry } from '../consent/ledger.ts';
import { type Db, type RawRow, rowsOf } from '../db/database.ts';
import type { consentEntries, profiles } from '../db/schema.ts';

export interface ConsentListing {
  profileId: string;
  status: 'granted' | 'denied';
  /** The entry that decided the status, or null where none exists and the purpose's default did. */
  decidedBy: Omit<LedgerEntry, 'purpose' | 'mappingHash'> | null;
}

/**
 * Profiles whose current status for `purpose` is `status`, a page at a time in profile-id order.
 * The status is the latest entry of the profile's live records (a denial wins a tie), or the
 * purpose's default where there is none.
 */
export async function listByConsent(
  db: Db,
  q: { purpose: string; status: 'granted' | 'denied'; defaultStatus: 'granted' | 'denied'; after?: string; limit: number },
): Promise<{ profiles: ConsentListing[]; next: string | null }> {
  // The deciding entry, null throughout where none decided (a left join); the check constraint holds `status` to these.
  type Decided = RawRow<typeof consentEntries, 'at' | 'statedAt' | 'receivedAt' | 'source' | 'recordId' | 'mappingFile'> & {
    status: 'granted' | 'denied';
  };
  const rows = rowsOf<RawRow<typeof profiles, 'id'> & { [K in keyof Decided]: Decided[K] | null }>(
    await db.execute(sql`
      with decided as (
        select distinct on (sr.profile_id) sr.profile_id, ce.status, ce.at, ce.stated_at, ce.received_at, ce.source, ce.record_id, ce.mapping_file
        from consent_entries ce join source_records sr on sr.id = ce.record_pk
        where ce.purpose = ${q.purpose} and sr.deleted_at is null
        order by sr.profile_id, ce.at desc, (ce.status = 'denied') desc, ce.id desc)
      select p.id, d.status, d.at, d.stated_at as "statedAt", d.received_at as "receivedAt", d.source, d.record_id as "recordId",
        d.mapping_file as "mappingFile"
      from profiles p left join decided d on d.profile_id = p.id
      where p.merged_into is null and p.erased_at is null and p.entity = 'person'
        and exists (select 1 from source_records m where m.profile_id = p.id and m.deleted_at is null)
        and coalesce(d.status, ${q.defaultStatus}) = ${q.status}
        ${q.after ? sql`and p.id > ${q.after}::uuid` : sql``}
      order by p.id limit ${q.limit + 1}`),
  );
  const page = rows.slice(0, q.limit);
  return {
    profiles: page.map((r) => ({
      profileId: r.id,
      status: r.status ?? q.defaultStatus,
      decidedBy:
        r.status && r.at && r.receivedAt && r.source && r.recordId && r.mappingFile
          ? {
              status: r.status,
              at: new Date(r.at).toISOString(),
              statedAt: r.statedAt ? new Date(r.statedAt).toISOString() : null,
              receivedAt: new Date(r.receivedAt).toISOString(),
              source: r.source,
              recordId: r.recordId,
              mapping: r.mappingFile,
            }
          : null,
    })),
    next: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null,
  };
}
