import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { stringify } from 'safe-stable-stringify';
import { qualifies } from '../consent/status.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import { lockKeys, textArray, uuidArray } from '../db/sql.ts';
import { loadProfiles } from '../golden/read.ts';
import type { PersonChange, ProfileChange } from '../golden/refresh.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { deliverJob } from './send.ts';

export interface FanoutJob {
  changes: ProfileChange[];
}

interface Planned {
  destinationId: string;
  profileId: string;
  event: string;
  body: string;
  /** When the profile changed: delivery latency is measured from here. */
  changedAt: string | null;
}

interface Destination {
  id: string;
  purposes: string[];
  fields: string[] | null;
  events: string[] | null;
  circuit_open_until: Date | string | null;
}

/** The golden record as a destination may see it: its allowlisted fields, with the id and version. */
function minimise<T extends Record<string, unknown>>(profile: T, fields: readonly string[] | null): Record<string, unknown> {
  if (!fields) return profile;
  const kept: Record<string, unknown> = { id: profile['id'], version: profile['version'], updatedAt: profile['updatedAt'] };
  for (const field of fields) if (field in profile) kept[field] = profile[field];
  return kept;
}

/** What a destination with an allowlist holds of a profile: the allowlisted fields' values, in a stable form. */
function allowlistHash(profile: Record<string, unknown>, fields: readonly string[]): string {
  const held = Object.fromEntries([...fields].sort().map((field) => [field, profile[field] ?? null]));
  return createHash('sha256')
    .update(stringify(held) ?? '')
    .digest('hex');
}

/**
 * Decides, per destination, what each changed profile means: its new version if it qualifies,
 * one `profile.suppressed` when it stops qualifying, nothing when the destination already has it.
 * The deliveries and their send jobs are written in one transaction.
 */
export async function fanout(
  ctx: PipelineContext,
  batch: readonly ProfileChange[],
  /** Plan for this destination only (a backfill). */
  only?: string,
): Promise<number> {
  // Accounts' changes reach only destinations that ask for accounts (see fanoutAccounts).
  const changes = combine(batch.filter(isPersonChange));
  return ctx.database.db.transaction(async (tx) => {
    // Two workers handling changes of one profile would race on its destination states.
    await tx.execute(lockKeys(changes.map((c) => `fanout:${c.profileId}`)));
    const destinations = rowsOf<Destination>(
      await tx.execute(
        sql`select id, purposes, fields, events, circuit_open_until from destinations ${only ? sql`where id = ${only}` : sql``}`,
      ),
    );
    if (destinations.length === 0 || changes.length === 0) return 0;
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
      rowsOf<{ destination_id: string; profile_id: string; status: string; golden_hash: string }>(
        await tx.execute(sql`
          select destination_id, profile_id, status, golden_hash from destination_states
          where profile_id = any(${uuidArray(involved)}) for update`),
      ).map((s) => [`${s.destination_id}/${s.profile_id}`, s]),
    );

    const purposes = ctx.workspace().purposes;
    const defaultOf = (purpose: string) => purposes.defaultOf(purpose);
    const planned: Planned[] = [];
    const newStates: { destinationId: string; profileId: string; status: 'sent' | 'suppressed'; hash: string }[] = [];
    const dropped: { destinationId: string; profileId: string }[] = [];
    /** Ids merged away: nothing of theirs not yet sent may go after their merge. */
    const retiredPairs: { destinationId: string; profileId: string }[] = [];
    for (const destination of destinations) {
      for (const change of changes) {
        if (change.event === 'profile.erased') {
          // Every destination hears of an erasure, whatever it was sent: it must delete what it holds.
          planned.push({
            destinationId: destination.id,
            profileId: change.profileId,
            event: change.event,
            body: JSON.stringify({ event: change.event, id: change.profileId }),
            changedAt: null,
          });
          dropped.push({ destinationId: destination.id, profileId: change.profileId });
          continue;
        }
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
          dropped.push({ destinationId: destination.id, profileId: id });
          retiredPairs.push({ destinationId: destination.id, profileId: id });
        }

        if (qualifies(profile.consent, destination.purposes, defaultOf)) {
          if (change.event === 'profile.updated' && state?.status === 'sent' && state.golden_hash === hash) continue;
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
          planned.push({
            destinationId: destination.id,
            profileId: profile.id,
            event: change.event,
            body: JSON.stringify(payload),
            changedAt: profile.updatedAt,
          });
          newStates.push({ destinationId: destination.id, profileId: profile.id, status: 'sent', hash });
        } else {
          // It stops qualifying: say so once, with no personal data, for every id the destination holds.
          const held = [...(state?.status === 'sent' ? [profile.id] : []), ...retiredSent];
          for (const id of held) {
            planned.push({
              destinationId: destination.id,
              profileId: id,
              event: 'profile.suppressed',
              body: JSON.stringify({ event: 'profile.suppressed', id }),
              changedAt: profile.updatedAt,
            });
          }
          if (state || retiredSent.length > 0)
            newStates.push({ destinationId: destination.id, profileId: profile.id, status: 'suppressed', hash });
        }
      }
    }
    await saveStates(tx, newStates, dropped);
    const openUntil = new Map(destinations.map((d) => [d.id, d.circuit_open_until ? new Date(d.circuit_open_until) : null]));
    await supersede(tx, planned, retiredPairs);
    return enqueueDeliveries(ctx, tx, planned, openUntil);
  });
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

async function saveStates(
  tx: Tx,
  states: { destinationId: string; profileId: string; status: string; hash: string }[],
  dropped: { destinationId: string; profileId: string }[],
) {
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

type Pair = { destinationId: string; profileId: string };

/**
 * A newer version supersedes an older snapshot (or suppression) not yet sent, so that one is never
 * sent after it; a merge supersedes the snapshots of the ids it retires, so a retired id hears
 * nothing after its merge (an erasure is the one exception). Merges, splits and a retired id's
 * suppression stay: they say which ids went where, or that one must be deleted, and go first (see
 * the order check in `send.ts`).
 */
async function supersede(tx: Tx, planned: readonly Pair[], retired: readonly Pair[]) {
  const pairs = (list: readonly Pair[]) =>
    sql`(destination_id, profile_id) in (
      select * from unnest(${uuidArray(list.map((p) => p.destinationId))}, ${uuidArray(list.map((p) => p.profileId))}))`;
  const superseded = [
    ...(planned.length > 0 ? [sql`(event in ('profile.updated', 'profile.suppressed') and ${pairs(planned)})`] : []),
    ...(retired.length > 0 ? [sql`(event = 'profile.updated' and ${pairs(retired)})`] : []),
  ];
  if (superseded.length === 0) return;
  await tx.execute(sql`
    update deliveries set status = 'superseded', next_attempt_at = null, updated_at = now()
    where status in ('pending', 'retrying') and (${sql.join(superseded, sql` or `)})`);
}

async function enqueueDeliveries(
  ctx: PipelineContext,
  tx: Tx,
  planned: Planned[],
  openUntil: ReadonlyMap<string, Date | null>,
): Promise<number> {
  if (planned.length === 0) return 0;
  const destinations = uuidArray(planned.map((p) => p.destinationId));
  const profiles = uuidArray(planned.map((p) => p.profileId));
  const rows = rowsOf<{ id: string; destination_id: string }>(
    await tx.execute(sql`
      insert into deliveries (destination_id, profile_id, event, body, changed_at)
      select d, p, e, b, c::timestamptz from unnest(${destinations}, ${profiles}, ${textArray(planned.map((p) => p.event))},
        ${textArray(planned.map((p) => p.body))}, ${sql.param(planned.map((p) => p.changedAt))}::text[]) as v(d, p, e, b, c)
      returning id, destination_id`),
  );
  await enqueue(
    ctx.boss,
    tx,
    'deliver',
    rows.map((r) => deliverJob(r.id, r.destination_id, openUntil.get(r.destination_id))),
  );
  return rows.length;
}
