import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { audit } from '../access/audit.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import { bigintArray, lockResolution, textArray, uuidArray } from '../db/sql.ts';
import { resolveProfileId } from '../golden/read.ts';
import { mapRecord } from '../mapping/apply.ts';
import type { Profile } from '../mapping/profile.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { QUEUES, sendInTx } from '../queue/queues.ts';
import { blockedValues, recordIdentity } from '../resolution/keys.ts';
import { tombstoneHash, tombstoneKeys } from './tombstones.ts';

export interface ErasureResult {
  id: string;
  erasureId: string;
  erasedAt: string;
  /** Profiles merged into it earlier, erased with it. */
  retiredIds: string[];
  records: number;
  rawRecords: number;
  identifiers: number;
  deliveriesWithdrawn: number;
}

interface Member {
  id: string | number;
  source: string;
  object: string;
  record_id: string;
  raw_id: string | number;
  fragment: Profile;
}

/**
 * `POST /profiles/:id/erase`: removes a person's personal data, in one transaction under the
 * resolution lock, so no record can link to the profile half-way:
 * - the raw payloads of its records (every version held), emptied;
 * - its member records, with their keys, pins and consent entries, deleted;
 * - its golden record and lineage (and those of profiles merged into it), emptied, and its lineage history deleted;
 * - the bodies of its deliveries, emptied, and those not yet sent withdrawn with their jobs;
 * - the record ids in its merge history, removed.
 * It keeps salted hashes of the identifiers, so a later record of the person is suppressed rather
 * than re-create them; the erasure is audited, and every destination hears `profile.erased`.
 */
export async function eraseProfile(
  ctx: PipelineContext,
  askedId: string,
  actor: { name: string; reason: string | null },
): Promise<ErasureResult | undefined> {
  return ctx.database.db.transaction(async (tx) => {
    await tx.execute(lockResolution());
    const id = await resolveProfileId(tx, askedId);
    if (!id) return undefined;
    const retiredIds = rowsOf<{ id: string }>(await tx.execute(sql`select id from profiles where merged_into = ${id}`)).map((r) => r.id);
    const profileIds = [id, ...retiredIds];
    // Wait for a golden rebuild of the profile in flight, as decisions do.
    await tx.execute(sql`select id from profiles where id = any(${uuidArray(profileIds)}) for update`);

    const members = rowsOf<Member>(
      await tx.execute(sql`select id, source, object, record_id, raw_id, fragment from source_records where profile_id = ${id}`),
    );
    const blocked = blockedValues(ctx.workspace().identity.blockedValues);
    const keys = [
      ...new Set(members.flatMap((m) => tombstoneKeys({ source: m.source, object: m.object, recordId: m.record_id }, m.fragment, blocked))),
    ];
    const rawIds = await rawVersions(ctx, tx, members);

    await tx.execute(sql`insert into erasure_salt (id, salt) values (1, ${randomBytes(32).toString('hex')}) on conflict do nothing`);
    const [erasure] = rowsOf<{ id: string; at: Date | string }>(
      await tx.execute(sql`
        insert into erasures (profile_id, actor, reason, records, raw_records, identifiers)
        values (${id}, ${actor.name}, ${actor.reason}, ${members.length}, ${rawIds.length}, ${keys.length})
        returning id, at`),
    );
    const erasureId = (erasure as { id: string }).id;
    await tx.execute(sql`
      insert into erasure_tombstones (hash, erasure_id)
      select ${tombstoneHash(sql`k.key`)}, ${erasureId}::uuid from unnest(${textArray(keys)}) as k(key)
      on conflict (hash) do nothing`);

    await tx.execute(sql`update raw_records set payload = '{}'::jsonb, erased_at = now() where id = any(${bigintArray(rawIds)})`);
    // Quarantine messages may quote the values that failed.
    await tx.execute(sql`
      update quarantine set message = 'erased', status = 'resolved', resolved_at = coalesce(resolved_at, now())
      where raw_id = any(${bigintArray(rawIds)})`);
    await tx.execute(sql`delete from source_records where profile_id = ${id}`);
    await tx.execute(sql`
      update profiles set golden = '{}'::jsonb, lineage = '{}'::jsonb, golden_hash = '', erased_at = now(), updated_at = now()
      where id = any(${uuidArray(profileIds)})`);
    await tx.execute(sql`delete from lineage_history where profile_id = any(${uuidArray(profileIds)})`);
    await tx.execute(sql`
      update profile_merges set details = '{"erased": true}'::jsonb
      where survivor_id = any(${uuidArray(profileIds)}) or retired_ids && ${uuidArray(profileIds)}`);
    // Deliveries not yet sent are withdrawn with their jobs; every body keeps only the event and the id.
    const withdrawn = rowsOf<{ id: string }>(
      await tx.execute(sql`
        update deliveries set status = 'withdrawn', last_error = 'the profile was erased', updated_at = now()
        where profile_id = any(${uuidArray(profileIds)}) and status in ('pending', 'sending', 'retrying') returning id`),
    );
    await tx.execute(sql`
      update deliveries set body = json_build_object('event', event, 'id', profile_id, 'erased', true)::text
      where profile_id = any(${uuidArray(profileIds)})`);
    if (withdrawn.length > 0) {
      await tx.execute(sql`
        delete from pgboss.job where name = ${QUEUES.deliver} and state in ('created', 'retry')
          and data->>'deliveryId' = any(${textArray(withdrawn.map((d) => d.id))})`);
    }
    await tx.execute(sql`delete from destination_states where profile_id = any(${uuidArray(profileIds)})`);
    await audit(tx, {
      actor: actor.name,
      action: 'profile.erased',
      profileId: id,
      reason: actor.reason,
      details: { erasure: erasureId, records: members.length, rawRecords: rawIds.length, identifiers: keys.length },
    });
    await sendInTx(ctx.boss, tx, QUEUES.fanout, { changes: [{ profileId: id, event: 'profile.erased' }] });
    return {
      id,
      erasureId,
      erasedAt: new Date((erasure as { at: Date | string }).at).toISOString(),
      retiredIds,
      records: members.length,
      rawRecords: rawIds.length,
      identifiers: keys.length,
      deliveriesWithdrawn: withdrawn.length,
    };
  });
}

/**
 * Every raw version of the members' records. A record links to its latest raw version only, so
 * earlier ones are found by text (raws of the same sources holding one of the record ids or
 * emails) and confirmed by mapping them again: a raw is erased if it maps to one of these records,
 * or if it maps to nothing (it was quarantined) and holds one of the person's emails.
 */
async function rawVersions(ctx: PipelineContext, tx: Tx, members: Member[]): Promise<number[]> {
  const ids = new Set(members.map((m) => Number(m.raw_id)));
  if (members.length === 0) return [];
  const wanted = new Set(members.map((m) => recordIdentity({ source: m.source, object: m.object, recordId: m.record_id })));
  const emails = [...new Set(members.flatMap((m) => m.fragment.emails ?? []).map((e) => e.toLowerCase()))];
  const patterns = [...new Set([...members.map((m) => m.record_id), ...emails])].map((v) => `%${likeEscape(v)}%`);
  const candidates = rowsOf<{ id: string | number; source: string; received_at: Date | string; content_hash: string; payload: unknown }>(
    await tx.execute(sql`
      select id, source, received_at, content_hash, payload from raw_records
      where erased_at is null and source = any(${textArray([...new Set(members.map((m) => m.source))])})
        and payload::text ilike any(${textArray(patterns)}) and id <> all(${bigintArray([...ids])})`),
  );
  const mappings = ctx.workspace().mappings;
  for (const raw of candidates) {
    const { fragments } = await mapRecord(
      {
        id: Number(raw.id),
        source: raw.source,
        receivedAt: new Date(raw.received_at),
        contentHash: raw.content_hash,
        payload: raw.payload,
      },
      mappings,
      { defaultRegion: ctx.settings.defaultRegion },
    );
    const text = JSON.stringify(raw.payload).toLowerCase();
    const ours = fragments.some((f) => wanted.has(recordIdentity(f))) || (fragments.length === 0 && emails.some((e) => text.includes(e)));
    if (ours) ids.add(Number(raw.id));
  }
  return [...ids];
}

const likeEscape = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);
