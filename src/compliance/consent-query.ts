import { sql } from 'drizzle-orm';
import type { LedgerEntry } from '../consent/ledger.ts';
import { type Db, rowsOf } from '../db/database.ts';

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
  const rows = rowsOf<{
    id: string;
    status: 'granted' | 'denied' | null;
    at: Date | string | null;
    stated_at: Date | string | null;
    received_at: Date | string | null;
    source: string | null;
    record_id: string | null;
    mapping_file: string | null;
  }>(
    await db.execute(sql`
      with decided as (
        select distinct on (sr.profile_id) sr.profile_id, ce.status, ce.at, ce.stated_at, ce.received_at, ce.source, ce.record_id, ce.mapping_file
        from consent_entries ce join source_records sr on sr.id = ce.record_pk
        where ce.purpose = ${q.purpose} and sr.deleted_at is null
        order by sr.profile_id, ce.at desc, (ce.status = 'denied') desc, ce.id desc)
      select p.id, d.status, d.at, d.stated_at, d.received_at, d.source, d.record_id, d.mapping_file
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
        r.status && r.at && r.received_at && r.source && r.record_id && r.mapping_file
          ? {
              status: r.status,
              at: new Date(r.at).toISOString(),
              statedAt: r.stated_at ? new Date(r.stated_at).toISOString() : null,
              receivedAt: new Date(r.received_at).toISOString(),
              source: r.source,
              recordId: r.record_id,
              mapping: r.mapping_file,
            }
          : null,
    })),
    next: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null,
  };
}
