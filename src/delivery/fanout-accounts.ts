import { sql } from 'drizzle-orm';
import { type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { destinationStates } from '../db/schema.ts';
import { uuidArray } from '../db/sql.ts';
import { announcedMembers, loadAccounts } from '../golden/read.ts';
import type { AccountChange, ProfileChange } from '../golden/refresh.ts';
import { memberKey } from '../resolution/memberships.ts';
import { erasedAmong } from '../resolution/read.ts';
import { allowlistHash, type Destination, minimise, type Plan } from './plan.ts';

/** A change of an account's record: its body carries the record. */
type RecordChange = Extract<AccountChange, { event: 'account.updated' | 'account.merged' | 'account.split' }>;
/** Someone joined or left an account: its body carries the account's id and the member. */
type MemberChange = Extract<AccountChange, { event: 'account.member_added' | 'account.member_removed' }>;

export interface AccountBatch {
  records: RecordChange[];
  members: MemberChange[];
  /** Every account named. */
  ids: string[];
}

export const isAccountChange = (change: ProfileChange): change is AccountChange => change.event.startsWith('account.');
const isMemberChange = (change: AccountChange): change is MemberChange =>
  change.event === 'account.member_added' || change.event === 'account.member_removed';

/**
 * Several jobs of one batch may name one account. Of its record, a merge is the news that counts,
 * then a split, as for persons. Its member events are kept, once each, in the order they came.
 */
export function combineAccounts(batch: readonly AccountChange[]): AccountBatch {
  const records = new Map<string, RecordChange>();
  const members = new Map<string, MemberChange>();
  for (const change of batch) {
    if (isMemberChange(change)) {
      members.set(`${change.profileId}|${change.event}|${memberKey(change.member)}`, change);
      continue;
    }
    const prev = records.get(change.profileId);
    const merged = [...(prev?.event === 'account.merged' ? prev.merged : []), ...(change.event === 'account.merged' ? change.merged : [])];
    records.set(
      change.profileId,
      merged.length > 0
        ? { profileId: change.profileId, event: 'account.merged', merged: [...new Set(merged)] }
        : prev?.event === 'account.split' && change.event === 'account.updated'
          ? prev
          : change,
    );
  }
  const ids = [...new Set([...records.keys(), ...[...members.values()].map((c) => c.profileId)])];
  return { records: [...records.values()], members: [...members.values()], ids };
}

/**
 * What each account change means to each destination that takes accounts. Accounts carry no
 * consent, so nothing is suppressed: a record goes unless the destination holds that version
 * already (destination states, as for persons). Member events are checked against the members the
 * account has now, as the golden stage last stored them: an added member no longer there, or a
 * removed one back, is old news, so events fanned out late or out of order never leave a
 * destination with a member the account no longer has. A backfill sends each account's members
 * as `account.member_added`. The record of an account goes before its member events. An erased
 * person is in none: their `profile.erased` ended their memberships.
 */
export async function planAccounts(tx: Tx, destinations: readonly Destination[], batch: AccountBatch, plan: Plan, backfill: boolean) {
  if (destinations.length === 0 || batch.ids.length === 0) return;
  const accounts = new Map((await loadAccounts(tx, batch.ids)).map((a) => [a.id, a]));
  const now = await announcedMembers(tx, batch.ids);
  const involved = batch.records.flatMap((c) => [c.profileId, ...(c.event === 'account.merged' ? c.merged : [])]);
  const states = new Map(
    rowsOf<RawRow<typeof destinationStates, 'destinationId' | 'profileId' | 'status' | 'goldenHash'>>(
      await tx.execute(sql`
        select destination_id as "destinationId", profile_id as "profileId", status, golden_hash as "goldenHash"
        from destination_states where profile_id = any(${uuidArray(involved)}) for update`),
    ).map((s) => [`${s.destinationId}/${s.profileId}`, s]),
  );
  const news: MemberChange[] = backfill
    ? batch.records
        .filter((c) => accounts.has(c.profileId))
        .flatMap((c) =>
          (now.get(c.profileId) ?? []).map((member) => ({ profileId: c.profileId, event: 'account.member_added' as const, member })),
        )
    : batch.members.flatMap((c) => {
        // An account merged away since: its merge, and the survivor's member events, say the rest.
        if (!accounts.has(c.profileId)) return [];
        const current = (now.get(c.profileId) ?? []).find((m) => memberKey(m) === memberKey(c.member));
        if (c.event === 'account.member_added') return current ? [{ ...c, member: current }] : [];
        return current ? [] : [c];
      });
  // An erased person's memberships went with their `profile.erased`; a member event would carry
  // their role again.
  const erased = await erasedAmong(
    tx,
    news.map((c) => c.member.profileId),
  );
  const memberNews = news.filter((c) => !erased.has(c.member.profileId));

  for (const destination of destinations) {
    const wants = (event: string) => !destination.events || destination.events.includes(event);
    for (const change of batch.records) {
      const account = accounts.get(change.profileId);
      if (!account) continue; // merged away since: the survivor's own change covers it
      const { hash: fullHash, ...full } = account;
      const retired = change.event === 'account.merged' ? change.merged : [];
      for (const id of retired) {
        plan.dropped.push({ destinationId: destination.id, profileId: id });
        plan.retired.push({ destinationId: destination.id, profileId: id });
      }
      const hash = destination.fields ? allowlistHash(full, destination.fields) : fullHash;
      const state = states.get(`${destination.id}/${account.id}`);
      if (change.event === 'account.updated' && state?.status === 'sent' && state.goldenHash === hash) continue;
      if (!wants(change.event)) continue;
      const view = minimise(full, destination.fields);
      const payload =
        change.event === 'account.merged'
          ? { event: change.event, account: view, merged: change.merged }
          : change.event === 'account.split'
            ? {
                event: change.event,
                account: view,
                ...(change.splitFrom ? { splitFrom: change.splitFrom } : {}),
                ...(change.splitInto ? { splitInto: change.splitInto } : {}),
              }
            : { event: change.event, account: view };
      plan.planned.push({
        destinationId: destination.id,
        profileId: account.id,
        event: change.event,
        body: JSON.stringify(payload),
        changedAt: account.updatedAt,
        supersedes: true,
      });
      plan.states.push({ destinationId: destination.id, profileId: account.id, status: 'sent', hash });
    }
    for (const change of memberNews) {
      if (!wants(change.event)) continue;
      plan.planned.push({
        destinationId: destination.id,
        profileId: change.profileId,
        event: change.event,
        body: JSON.stringify({ event: change.event, account: { id: change.profileId }, member: change.member }),
        changedAt: null,
        supersedes: false,
      });
    }
  }
}
