import { sql } from 'drizzle-orm';
import { audit, queryAudit } from '../access/audit.ts';
import { type Db, type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { deliveries, destinations, rawRecords, sourceRecords } from '../db/schema.ts';
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

type MemberRow = RawRow<
  typeof sourceRecords,
  | 'source'
  | 'object'
  | 'recordId'
  | 'profileId'
  | 'rawId'
  | 'fragment'
  | 'mappingFile'
  | 'mappingHash'
  | 'observedAt'
  | 'sourceUpdatedAt'
  | 'deletedAt'
> &
  RawRow<typeof rawRecords, 'receivedAt' | 'payload'>;

const iso = (value: Date | string) => new Date(value).toISOString();
const memberView = (r: MemberRow): MemberRecord => ({
  source: r.source,
  object: r.object,
  recordId: r.recordId,
  raw: { id: Number(r.rawId), receivedAt: iso(r.receivedAt), payload: r.payload },
  fragment: r.fragment,
  mapping: r.mappingFile,
  mappingHash: r.mappingHash,
  observedAt: iso(r.observedAt),
  sourceUpdatedAt: r.sourceUpdatedAt ? iso(r.sourceUpdatedAt) : null,
  deletedAt: r.deletedAt ? iso(r.deletedAt) : null,
});

const MEMBER_COLUMNS = sql`
  sr.source, sr.object, sr.record_id as "recordId", sr.profile_id as "profileId", sr.raw_id as "rawId",
  rr.received_at as "receivedAt", rr.payload, sr.fragment, sr.mapping_file as "mappingFile", sr.mapping_hash as "mappingHash",
  sr.observed_at as "observedAt", sr.source_updated_at as "sourceUpdatedAt", sr.deleted_at as "deletedAt"`;

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
  ).map((r) => ({ ...memberView(r), profileId: r.profileId }));
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
    const sent = rowsOf<
      RawRow<
        typeof deliveries,
        'id' | 'destinationId' | 'profileId' | 'event' | 'status' | 'attempts' | 'createdAt' | 'deliveredAt' | 'body'
      > &
        RawRow<typeof destinations, 'url'>
    >(
      await tx.execute(sql`
        select dl.id, dl.destination_id as "destinationId", d.url, dl.profile_id as "profileId", dl.event, dl.status, dl.attempts,
          dl.created_at as "createdAt", dl.delivered_at as "deliveredAt", dl.body
        from deliveries dl join destinations d on d.id = dl.destination_id
        where dl.profile_id = ${id} or dl.profile_id in (select p.id from profiles p where p.merged_into = ${id})
        order by dl.created_at, dl.id`),
    ).map((d) => ({
      id: d.id,
      destination: { id: d.destinationId, url: d.url },
      profileId: d.profileId,
      event: d.event,
      status: d.status,
      attempts: d.attempts,
      createdAt: iso(d.createdAt),
      deliveredAt: d.deliveredAt ? iso(d.deliveredAt) : null,
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
    return { exportedAt: new Date().toISOString(), id, profile, records, consent, deliveries: sent, audit: auditTrail };
  });
}
