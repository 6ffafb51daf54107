import { audit, queryAudit } from '../access/audit.ts';
import type { Db, Tx } from '../db/database.ts';
import { deliveriesOfProfiles } from '../delivery/profile-deliveries.ts';
import { loadConsentLedger, loadProfileViews } from '../golden/read.ts';
import { readRawRecords } from '../intake/store.ts';
import type { Violation } from '../mapping/violations.ts';
import { recordsBySourceId, recordsOfProfile, resolveProfileId, retiredInto, type StoredRecord } from '../resolution/read.ts';

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
  /** The values the mapping dropped from the fragment as invalid or blocked, each with its field and why. */
  violations: Violation[];
}

const iso = (value: Date | string) => new Date(value).toISOString();

/**
 * The records with the raw versions they hold, in their order. Two reads, one per owner: the records
 * are resolution's, the raw versions intake's. A record always holds a stored raw version (a foreign
 * key); one without would be left out, as a join leaves it.
 */
async function withRaws(db: Db | Tx, records: StoredRecord[]): Promise<(MemberRecord & { profileId: string })[]> {
  const raws = new Map((await readRawRecords(db, [...new Set(records.map((r) => Number(r.rawId)))])).map((raw) => [raw.id, raw]));
  return records.flatMap((r) => {
    const raw = raws.get(Number(r.rawId));
    if (!raw) return [];
    return [
      {
        source: r.source,
        object: r.object,
        recordId: r.recordId,
        raw: { id: Number(r.rawId), receivedAt: iso(raw.receivedAt), payload: raw.payload },
        fragment: r.fragment,
        mapping: r.mappingFile,
        mappingHash: r.mappingHash,
        observedAt: iso(r.observedAt),
        sourceUpdatedAt: r.sourceUpdatedAt ? iso(r.sourceUpdatedAt) : null,
        deletedAt: r.deletedAt ? iso(r.deletedAt) : null,
        violations: r.violations ?? [],
        profileId: r.profileId,
      },
    ];
  });
}

/** A profile's member records, raw and mapped. */
export async function loadMembers(db: Db | Tx, profileId: string): Promise<MemberRecord[]> {
  return (await withRaws(db, await recordsOfProfile(db, profileId))).map(({ profileId: _profileId, ...member }) => member);
}

/** One source record by its id in the source, with the profile it belongs to (any object type). */
export async function loadRecords(db: Db | Tx, source: string, recordId: string) {
  return withRaws(db, await recordsBySourceId(db, source, recordId));
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
    // Deliveries about the profiles merged into it too: they were sent before the merge.
    const sent = (await deliveriesOfProfiles(tx, [id, ...(await retiredInto(tx, id))])).map((d) => ({
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
