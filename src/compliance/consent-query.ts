import { decidingEntries, type LedgerEntry } from '../consent/ledger.ts';
import type { Db } from '../db/database.ts';
import { livePersonsAfter } from '../resolution/read.ts';

export interface ConsentListing {
  profileId: string;
  status: 'granted' | 'denied';
  /** The entry that decided the status, or null where none exists and the purpose's default did. */
  decidedBy: Omit<LedgerEntry, 'purpose' | 'mappingHash'> | null;
}

/** Profiles read per round, at most: each round is one read of resolution's and one of consent's. */
const MAX_BATCH = 5_000;

/**
 * Profiles whose current status for `purpose` is `status`, a page at a time in profile-id order.
 * The status is the latest entry of the profile's live records (a denial wins a tie), or the
 * purpose's default where there is none.
 *
 * The profiles and their records are resolution's, the entries consent's: live persons are read a
 * batch at a time in id order, their deciding entries for the batch, and those with the status
 * kept, until the page is full. A batch starts at the page's size and doubles, so a status few
 * profiles have takes a few rounds more, not one per page of profiles.
 */
export async function listByConsent(
  db: Db,
  q: { purpose: string; status: 'granted' | 'denied'; defaultStatus: 'granted' | 'denied'; after?: string; limit: number },
): Promise<{ profiles: ConsentListing[]; next: string | null }> {
  const found: ConsentListing[] = [];
  let after = q.after;
  for (let batch = q.limit + 1; found.length <= q.limit; batch = Math.min(batch * 2, MAX_BATCH)) {
    const persons = await livePersonsAfter(db, { after, limit: batch });
    const decided = await decidingEntries(db, q.purpose, persons);
    for (const { profileId } of persons) {
      const r = decided.get(profileId);
      if ((r?.status ?? q.defaultStatus) !== q.status) continue;
      found.push({
        profileId,
        status: r?.status ?? q.defaultStatus,
        decidedBy: r
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
      });
      if (found.length > q.limit) break;
    }
    if (persons.length < batch) break;
    after = persons.at(-1)?.profileId;
  }
  const page = found.slice(0, q.limit);
  return { profiles: page, next: found.length > q.limit ? (page.at(-1)?.profileId ?? null) : null };
}
