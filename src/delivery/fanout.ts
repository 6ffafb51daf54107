import { sql } from 'drizzle-orm';
import { qualifies } from '../consent/status.ts';
import { type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { deliveries, destinationStates } from '../db/schema.ts';
import { lockKeys, textArray, uuidArray } from '../db/sql.ts';
import { loadProfiles } from '../golden/read.ts';
import type { PersonChange, ProfileChange } from '../golden/refresh.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { combineAccounts, isAccountChange, planAccounts } from './fanout-accounts.ts';
import { allowlistHash, type Destination, minimise, type Pair, type Plan, type Planned } from './plan.ts';
import { deliverJob } from './send.ts';

export interface FanoutJob {
  changes: ProfileChange[];
}

/**
 * Decides, per destination, what each change means, and writes the deliveries and their send jobs
 * in one transaction. A person's changes go to the destinations that take persons (`entities`), an
 * account's to those that take accounts (`fanout-accounts.ts`), an erasure to every destination.
 */
export async function fanout(
  ctx: PipelineContext,
  batch: readonly ProfileChange[],
  /** Plan for this destination only (a backfill). */
  only?: string,
): Promise<number> {
  const persons = combine(batch.filter(isPersonChange));
  const accounts = combineAccounts(batch.filter(isAccountChange));
  const ids = [...persons.map((c) => c.profileId), ...accounts.ids];
  if (ids.length === 0) return 0;
  return ctx.database.db.transaction(async (tx) => {
    // Two workers handling changes of one profile would race on its destination states.
    await tx.execute(lockKeys(ids.map((id) => `fanout:${id}`)));
    const destinations = rowsOf<Destination>(
      await tx.execute(
        sql`select id, purposes, fields, events, entities, circuit_open_until as "circuitOpenUntil" from destinations ${only ? sql`where id = ${only}` : sql``}`,
      ),
    );
    if (destinations.length === 0) return 0;
    const plan: Plan = { planned: [], states: [], dropped: [], retired: [] };
    await planPersons(ctx, tx, destinations, persons, plan);
    const takingAccounts = destinations.filter((d) => d.entities.includes('account'));
    await planAccounts(tx, takingAccounts, accounts, plan, only !== undefined);
    await saveStates(tx, plan.states, plan.dropped);
    await supersede(
      tx,
      plan.planned.filter((p) => p.supersedes),
      plan.retired,
    );
    const openUntil = new Map(destinations.map((d) => [d.id, d.circuitOpenUntil ? new Date(d.circuitOpenUntil) : null]));
    return enqueueDeliveries(ctx, tx, plan.planned, openUntil);
  });
}

/**
 * What each changed person means to each destination that takes persons: its new version if it
 * qualifies, one `profile.suppressed` when it stops qualifying, nothing when the destination
 * already has it. An erasure goes to every destination, one that takes accounts alone too: member
 * events gave it the person's id.
 */
async function planPersons(
  ctx: PipelineContext,
  tx: Tx,
  destinations: readonly Destination[],
  changes: readonly PersonChange[],
  plan: Plan,
) {
  if (changes.length === 0) return;
  const profiles = new Map(
    (
      await loadProfiles(
        tx,
        changes.map((c) => c.profileId),
      )
    ).map((p) => [p.id, p]),
  );
  const involved = changes.flatMap((c) => [c.profileId, ...(c.event === 'profile.merged' ? c.merged : [])]);
  const states = new Map(
    rowsOf<RawRow<typeof destinationStates, 'destinationId' | 'profileId' | 'status' | 'goldenHash'>>(
      await tx.execute(sql`
        select destination_id as "destinationId", profile_id as "profileId", status, golden_hash as "goldenHash"
        from destination_states where profile_id = any(${uuidArray(involved)}) for update`),
    ).map((s) => [`${s.destinationId}/${s.profileId}`, s]),
  );

  const purposes = ctx.workspace().purposes;
  const defaultOf = (purpose: string) => purposes.defaultOf(purpose);
  for (const destination of destinations) {
    const takesPersons = destination.entities.includes('person');
    for (const change of changes) {
      if (change.event === 'profile.erased') {
        // Every destination hears of an erasure, whatever it was sent: it must delete what it holds.
        plan.planned.push({
          destinationId: destination.id,
          profileId: change.profileId,
          event: change.event,
          body: JSON.stringify({ event: change.event, id: change.profileId }),
          changedAt: null,
          supersedes: true,
        });
        plan.dropped.push({ destinationId: destination.id, profileId: change.profileId });
        continue;
      }
      if (!takesPersons) continue;
      const profile = profiles.get(change.profileId);
      if (!profile) continue; // merged away since: the survivor's own change covers it
      const { hash: fullHash, ...fullProfile } = profile;
      const publicProfile = minimise(fullProfile, destination.fields);
      // With an allowlist, only a change to the fields it sends is news to the destination: the
      // version and time change with every field, so they are left out of the hash.
      const hash = destination.fields ? allowlistHash(fullProfile, destination.fields) : fullHash;
      const state = states.get(`${destination.id}/${profile.id}`);
      const retired = change.event === 'profile.merged' ? change.merged : [];
      const retiredSent = retired.filter((id) => states.get(`${destination.id}/${id}`)?.status === 'sent');
      for (const id of retired) {
        plan.dropped.push({ destinationId: destination.id, profileId: id });
        plan.retired.push({ destinationId: destination.id, profileId: id });
      }

      if (qualifies(profile.consent, destination.purposes, defaultOf)) {
        if (change.event === 'profile.updated' && state?.status === 'sent' && state.goldenHash === hash) continue;
        if (destination.events && !destination.events.includes(change.event)) continue;
        const payload =
          change.event === 'profile.merged'
            ? { event: change.event, profile: publicProfile, merged: change.merged }
            : change.event === 'profile.split'
              ? {
                  event: change.event,
                  profile: publicProfile,
                  ...(change.splitFrom ? { splitFrom: change.splitFrom } : {}),
                  ...(change.splitInto ? { splitInto: change.splitInto } : {}),
                }
              : { event: change.event, profile: publicProfile };
        plan.planned.push({
          destinationId: destination.id,
          profileId: profile.id,
          event: change.event,
          body: JSON.stringify(payload),
          changedAt: profile.updatedAt,
          supersedes: true,
        });
        plan.states.push({ destinationId: destination.id, profileId: profile.id, status: 'sent', hash });
      } else {
        // It stops qualifying: say so once, with no personal data, for every id the destination holds.
        const held = [...(state?.status === 'sent' ? [profile.id] : []), ...retiredSent];
        for (const id of held) {
          plan.planned.push({
            destinationId: destination.id,
            profileId: id,
            event: 'profile.suppressed',
            body: JSON.stringify({ event: 'profile.suppressed', id }),
            changedAt: profile.updatedAt,
            supersedes: true,
          });
        }
        if (state || retiredSent.length > 0)
          plan.states.push({ destinationId: destination.id, profileId: profile.id, status: 'suppressed', hash });
      }
    }
  }
}

const isPersonChange = (change: ProfileChange): change is PersonChange => change.event.startsWith('profile.');

/** Several jobs of one batch may name one profile: a merge among them is the news that counts. */
function combine(batch: readonly PersonChange[]): PersonChange[] {
  const byProfile = new Map<string, PersonChange>();
  for (const change of batch) {
    const prev = byProfile.get(change.profileId);
    // An erasure is the last word on a profile.
    if (prev?.event === 'profile.erased' || change.event === 'profile.erased') {
      byProfile.set(change.profileId, { profileId: change.profileId, event: 'profile.erased' });
      continue;
    }
    const merged = [...(prev?.event === 'profile.merged' ? prev.merged : []), ...(change.event === 'profile.merged' ? change.merged : [])];
    // Merges are the news that counts, then splits; a plain update never hides either.
    const next =
      merged.length > 0
        ? { profileId: change.profileId, event: 'profile.merged' as const, merged: [...new Set(merged)] }
        : prev?.event === 'profile.split' && change.event === 'profile.updated'
          ? prev
          : change;
    byProfile.set(change.profileId, next);
  }
  return [...byProfile.values()];
}

async function saveStates(tx: Tx, states: Plan['states'], dropped: readonly Pair[]) {
  if (dropped.length > 0) {
    await tx.execute(sql`
      delete from destination_states where (destination_id, profile_id) in (
        select * from unnest(${uuidArray(dropped.map((d) => d.destinationId))}, ${uuidArray(dropped.map((d) => d.profileId))}))`);
  }
  if (states.length === 0) return;
  await tx.execute(sql`
    insert into destination_states (destination_id, profile_id, status, golden_hash)
    select * from unnest(${uuidArray(states.map((s) => s.destinationId))}, ${uuidArray(states.map((s) => s.profileId))},
      ${textArray(states.map((s) => s.status))}, ${textArray(states.map((s) => s.hash))})
    on conflict (destination_id, profile_id) do update set
      status = excluded.status, golden_hash = excluded.golden_hash, updated_at = now()`);
}

/**
 * A newer version supersedes an older snapshot (`profile.updated`, `account.updated`) or
 * suppression not yet sent, so that one is never sent after it; a merge supersedes the snapshots
 * of the ids it retires, so a retired id hears nothing after its merge (an erasure is the one
 * exception). Merges, splits, a retired id's suppression and member events stay: they say which
 * ids went where, that one must be deleted, or who joined or left an account, and go first (see
 * the order check in `send.ts`). An id is a person's or an account's, so a pair matches only
 * deliveries of its own kind.
 */
async function supersede(tx: Tx, superseding: readonly Pair[], retired: readonly Pair[]) {
  const pairs = (list: readonly Pair[]) =>
    sql`(destination_id, profile_id) in (
      select * from unnest(${uuidArray(list.map((p) => p.destinationId))}, ${uuidArray(list.map((p) => p.profileId))}))`;
  const superseded = [
    ...(superseding.length > 0
      ? [sql`(event in ('profile.updated', 'profile.suppressed', 'account.updated') and ${pairs(superseding)})`]
      : []),
    ...(retired.length > 0 ? [sql`(event in ('profile.updated', 'account.updated') and ${pairs(retired)})`] : []),
  ];
  if (superseded.length === 0) return;
  await tx.execute(sql`
    update deliveries set status = 'superseded', next_attempt_at = null, updated_at = now()
    where status in ('pending', 'retrying') and (${sql.join(superseded, sql` or `)})`);
}

async function enqueueDeliveries(
  ctx: PipelineContext,
  tx: Tx,
  planned: readonly Planned[],
  openUntil: ReadonlyMap<string, Date | null>,
): Promise<number> {
  if (planned.length === 0) return 0;
  // Deliveries of one id to one destination planned together (an account's record, then its member
  // events) leave in the order planned. The send orders them by (created_at, id), and in one
  // transaction created_at is one instant and ids are random: each is made a microsecond younger
  // than the one planned before it.
  const seen = new Map<string, number>();
  const rank = planned.map((p) => {
    const pair = `${p.destinationId}/${p.profileId}`;
    const n = seen.get(pair) ?? 0;
    seen.set(pair, n + 1);
    return n;
  });
  const rows = rowsOf<RawRow<typeof deliveries, 'id' | 'destinationId'>>(
    await tx.execute(sql`
      insert into deliveries (destination_id, profile_id, event, body, changed_at, created_at)
      select d, p, e, b, c::timestamptz, now() + r * interval '1 microsecond'
      from unnest(${uuidArray(planned.map((p) => p.destinationId))}, ${uuidArray(planned.map((p) => p.profileId))},
        ${textArray(planned.map((p) => p.event))}, ${textArray(planned.map((p) => p.body))},
        ${sql.param(planned.map((p) => p.changedAt))}::text[], ${sql.param(rank)}::int[]) as v(d, p, e, b, c, r)
      returning id, destination_id as "destinationId"`),
  );
  await enqueue(
    ctx.boss,
    tx,
    'deliver',
    rows.map((r) => deliverJob(r.id, r.destinationId, openUntil.get(r.destinationId))),
  );
  return rows.length;
}
