import { sql } from 'drizzle-orm';
import { audit, queryAudit } from '../access/audit.ts';
import { type Db, rowsOf, type Tx } from '../db/database.ts';
import { loadConsentLedger, loadProfileViews, resolveProfileId } from '../golden/read.ts';

export interface MemberRecord {
  source: string;
  object: string;
  recordId: string;
  /** The version held: the payload exactly as it arrived, and when. */
  raw: { id: number; receivedAt: string; payload: unknown };
  /** The canonical fragment the mapping made of it. */
  fragment: unknown;
  mapping: string;
  mappingHash: string;
  observedAt: string;
  sourceUpdatedAt: string | null;
  deletedAt: string | null;
}

interface MemberRow {
  source: string;
  object: string;
  record_id: string;
  profile_id: string;
  raw_id: string | number;
  received_at: Date | string;
  payload: unknown;
  fragment: unknown;
  mapping_file: string;
  mapping_hash: string;
  observed_at: Date | string;
  source_updated_at: Date | string | null;
  deleted_at: Date | string | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();
const memberView = (r: MemberRow): MemberRecord => ({
  source: r.source,
  object: r.object,
  recordId: r.record_id,
  raw: { id: Number(r.raw_id), receivedAt: iso(r.received_at), payload: r.payload },
  fragment: r.fragment,
  mapping: r.mapping_file,
  mappingHash: r.mapping_hash,
  observedAt: iso(r.observed_at),
  sourceUpdatedAt: r.source_updated_at ? iso(r.source_updated_at) : null,
  deletedAt: r.deleted_at ? iso(r.deleted_at) : null,
});

const MEMBER_COLUMNS = sql`
  sr.source, sr.object, sr.record_id, sr.profile_id, sr.raw_id, rr.received_at, rr.payload, sr.fragment,
  sr.mapping_file, sr.mapping_hash, sr.observed_at, sr.source_updated_at, sr.deleted_at`;

/** A profile's member records, raw and mapped. */
export async function loadMembers(db: Db | Tx, profileId: string): Promise<MemberRecord[]> {
  return rowsOf<MemberRow>(
    await db.execute(sql`
      select ${MEMBER_COLUMNS} from source_records sr join raw_records rr on rr.id = sr.raw_id
      where sr.profile_id = ${profileId} order by sr.id`),
  ).map(memberView);
}

/** One source record by its id in the source, with the profile it belongs to (any object type). */
export async function loadRecords(db: Db | Tx, source: string, recordId: string) {
  return rowsOf<MemberRow>(
    await db.execute(sql`
      select ${MEMBER_COLUMNS} from source_records sr join raw_records rr on rr.id = sr.raw_id
      where sr.source = ${source} and sr.record_id = ${recordId} order by sr.object`),
  ).map((r) => ({ ...memberView(r), profileId: r.profile_id }));
}

/**
 * Everything the hub holds on a person, as one document: the golden record, each member record raw
 * and mapped, the consent ledger, the deliveries made (to this profile and to the profiles merged
 * into it) and the audit entries. The export itself is audited in the same transaction.
 */
export async function exportProfile(db: Db, askedId: string, actor: { name: string; reason: string | null }) {
  return db.transaction(async (tx) => {
    const id = await resolveProfileId(tx, askedId);
    if (!id) return undefined;
    const [profile] = await loadProfileViews(tx, [id]);
    const records = await loadMembers(tx, id);
    const consent = await loadConsentLedger(tx, id);
    const deliveries = rowsOf<{
      id: string;
      destination_id: string;
      url: string;
      profile_id: string;
      event: string;
      status: string;
      attempts: number;
      created_at: Date | string;
      delivered_at: Date | string | null;
      body: string;
    }>(
      await tx.execute(sql`
        select dl.id, dl.destination_id, d.url, dl.profile_id, dl.event, dl.status, dl.attempts, dl.created_at, dl.delivered_at, dl.body
        from deliveries dl join destinations d on d.id = dl.destination_id
        where dl.profile_id = ${id} or dl.profile_id in (select p.id from profiles p where p.merged_into = ${id})
        order by dl.created_at, dl.id`),
    ).map((d) => ({
      id: d.id,
      destination: { id: d.destination_id, url: d.url },
      profileId: d.profile_id,
      event: d.event,
      status: d.status,
      attempts: d.attempts,
      createdAt: iso(d.created_at),
      deliveredAt: d.delivered_at ? iso(d.delivered_at) : null,
      // What was sent, as sent.
      body: JSON.parse(d.body) as unknown,
    }));
    await audit(tx, {
      actor: actor.name,
      action: 'profile.exported',
      profileId: id,
      reason: actor.reason,
      details: { records: records.length },
    });
    const auditTrail: unknown[] = [];
    for (let before: number | undefined; ; ) {
      const page = await queryAudit(tx, { profile: id, limit: 1000, ...(before ? { before } : {}) });
      auditTrail.push(...page.entries);
      if (page.next === null) break;
      before = page.next;
    }
    return { exportedAt: new Date().toISOString(), id, profile, records, consent, deliveries, audit: auditTrail };
  });
}
