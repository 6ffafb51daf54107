import { inArray, sql } from 'drizzle-orm';
import { audit } from '../access/audit.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import { type profiles, sourceRecords } from '../db/schema.ts';
import { lockResolution, uuidArray } from '../db/sql.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import { recordDecision, retire } from './link.ts';
import { lockProfiles } from './locks.ts';

/**
 * Identity's side of a merge or split someone decided (`POST /profiles/merge`, `/profiles/:id/split`
 * and the account routes): the profiles, their records and the pins between them, which are
 * resolution's. Golden records and deliveries follow in `pipeline/decisions.ts`.
 */

/** Why a decision cannot be carried out; the API turns these into 400/404 answers. */
export class DecisionError extends Error {
  readonly code: 'profile_not_found' | 'invalid_request';
  constructor(code: DecisionError['code'], message: string) {
    super(message);
    this.name = 'DecisionError';
    this.code = code;
  }
}

export interface Actor {
  name: string;
  reason: string | null;
}

type Member = Pick<typeof sourceRecords.$inferSelect, 'id' | 'source' | 'object' | 'recordId' | 'profileId'>;

async function membersOf(tx: Tx, profileIds: string[]): Promise<Member[]> {
  return tx
    .select({
      id: sourceRecords.id,
      source: sourceRecords.source,
      object: sourceRecords.object,
      recordId: sourceRecords.recordId,
      profileId: sourceRecords.profileId,
    })
    .from(sourceRecords)
    .where(inArray(sourceRecords.profileId, profileIds));
}

/** Locks as ingest does: the resolution lock first, then the profile rows. Ids of another entity type count as unknown. */
async function lockForDecision(tx: Tx, ids: string[], entity: Entity) {
  await tx.execute(lockResolution());
  const locked = await lockProfiles(tx, new Set(ids));
  const other = rowsOf<Pick<typeof profiles.$inferSelect, 'id'>>(
    await tx.execute(sql`select id from profiles where id = any(${uuidArray([...locked.seqOf.keys()])}) and entity <> ${entity}`),
  );
  for (const { id } of other) locked.active.delete(id);
  return locked;
}

const noun = (entity: Entity) => (entity === 'account' ? 'account' : 'profile');

/**
 * Merges the profiles whatever their records say; the oldest survives. Pins between their records
 * are lifted: someone decided these are one person.
 */
export async function mergeProfiles(
  tx: Tx,
  entity: Entity,
  ids: string[],
  actor: Actor,
): Promise<{ survivorId: string; retiredIds: string[] }> {
  const { active, seqOf } = await lockForDecision(tx, ids, entity);
  const unknown = ids.filter((id) => !active.has(id) || !active.has(active.get(id) as string));
  if (unknown.length > 0) throw new DecisionError('profile_not_found', `there is no ${noun(entity)} ${unknown.join(', ')}`);
  const distinct = [...new Set(ids.map((id) => active.get(id) as string))].sort((a, b) => (seqOf.get(a) ?? 0) - (seqOf.get(b) ?? 0));
  const [survivorId, ...retiredIds] = distinct;
  if (!survivorId || retiredIds.length === 0) throw new DecisionError('invalid_request', `these ids are already one ${noun(entity)}`);
  await retire(tx, entity, survivorId, retiredIds, 'manual', actor.name, actor.reason, { requested: ids });
  await tx.execute(sql`
    delete from link_pins where record_a in (select id from source_records where profile_id = ${survivorId})
      and record_b in (select id from source_records where profile_id = ${survivorId})`);
  return { survivorId, retiredIds };
}

/**
 * Moves records out of a profile into a new one and pins the decision, so the moved records never
 * re-merge with the rest automatically.
 */
export async function splitRecords(
  tx: Tx,
  entity: Entity,
  profileId: string,
  records: { source: string; recordId: string; object?: string | undefined }[],
  actor: Actor,
): Promise<{ id: string; newId: string; moved: { source: string; object: string; recordId: string }[] }> {
  const { active } = await lockForDecision(tx, [profileId], entity);
  const id = active.get(profileId);
  if (!id) throw new DecisionError('profile_not_found', `there is no ${noun(entity)} ${profileId}`);
  const members = (await membersOf(tx, [id])).filter((m) => m.profileId === id);
  const chosen = new Set<Member>();
  const missing: string[] = [];
  for (const r of records) {
    const found = members.filter(
      (m) => m.source === r.source && m.recordId === r.recordId && (r.object === undefined || m.object === r.object),
    );
    if (found.length === 0) missing.push(`${r.source}/${r.recordId}`);
    for (const m of found) chosen.add(m);
  }
  if (missing.length > 0) throw new DecisionError('invalid_request', `not records of ${noun(entity)} ${id}: ${missing.join(', ')}`);
  if (chosen.size === 0 || chosen.size === members.length) {
    throw new DecisionError('invalid_request', `a split must move some, but not all, of the ${noun(entity)}’s records`);
  }
  const moved = [...chosen].map((m) => String(m.id));
  const kept = members.filter((m) => !chosen.has(m)).map((m) => String(m.id));
  const [created] = rowsOf<Pick<typeof profiles.$inferSelect, 'id'>>(
    await tx.execute(sql`insert into profiles (entity) values (${entity}) returning id`),
  );
  const newId = (created as Pick<typeof profiles.$inferSelect, 'id'>).id;
  await tx.execute(sql`update source_records set profile_id = ${newId} where id = any(${sql.param(moved)}::bigint[])`);
  await tx.execute(sql`
    insert into link_pins (record_a, record_b, actor, reason)
    select least(a, b), greatest(a, b), ${actor.name}, ${actor.reason}
    from unnest(${sql.param(moved)}::bigint[]) a cross join unnest(${sql.param(kept)}::bigint[]) b
    on conflict do nothing`);
  const details = { records: [...chosen].map((m) => ({ source: m.source, object: m.object, recordId: m.recordId })) };
  await recordDecision(tx, { survivorId: id, retiredIds: [newId], kind: 'split', details, actor: actor.name, reason: actor.reason });
  await audit(tx, {
    actor: actor.name,
    action: entity === 'account' ? 'account.split' : 'profile.split',
    profileId: id,
    reason: actor.reason,
    details: { into: newId, records: moved.length },
  });
  return { id, newId, moved: details.records };
}
