import { sql } from 'drizzle-orm';
import { type AuditEntry, audit } from '../access/audit.ts';
import { statementsOfRecords } from '../consent/ledger.ts';
import type { ConsentStatus } from '../consent/status.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import type { goldenRecords, profiles } from '../db/schema.ts';
import { textArray, uuidArray, withRetry } from '../db/sql.ts';
import type { Account } from '../mapping/account.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import type { Merge } from '../resolution/link.ts';
import { lockProfiles } from '../resolution/locks.ts';
import { type Member as AccountMember, accountsOfPersons, memberKey, membersOf } from '../resolution/memberships.ts';
import { liveMembersOf, profileIdentities } from '../resolution/read.ts';
import { type Built, buildAccountGolden, buildGolden, type Member } from './build.ts';

/** Profiles whose members changed, and the merges that made them: the golden stage's work. */
export interface GoldenJob {
  profileIds: string[];
  merges: Merge[];
}

/**
 * The golden stage: rebuilds the golden records of a batch of jobs and hands the changes to fan-out,
 * in one transaction. Ids merged away since the job was queued are followed to their survivor, whose
 * `profile.merged` then names every id it absorbed.
 */
export async function refreshJobs(ctx: PipelineContext, jobs: readonly GoldenJob[]): Promise<number> {
  const priorityOf = (source: string) => ctx.workspace().sources.get(source)?.priority ?? 0;
  return withRetry(() =>
    ctx.database.db.transaction(async (tx) => {
      const ids = new Set(jobs.flatMap((j) => [...j.profileIds, ...j.merges.map((m) => m.survivorId)]));
      const { active } = await lockProfiles(tx, ids);
      const absorbed = new Map<string, Set<string>>();
      for (const merge of jobs.flatMap((j) => j.merges)) {
        const survivor = active.get(merge.survivorId) ?? merge.survivorId;
        const set = absorbed.get(survivor) ?? new Set<string>();
        for (const id of merge.retiredIds) set.add(id);
        absorbed.set(survivor, set);
      }
      const targets = new Set([...ids].map((id) => active.get(id) ?? id));
      // A person's memberships may have changed (or the person merged): their accounts' member lists too.
      for (const account of await accountsOfPersons(tx, [...targets])) targets.add(account);
      const merges = [...absorbed].map(([survivorId, retired]) => ({ survivorId, retiredIds: [...retired] }));
      const changes = await refreshGolden(tx, targets, priorityOf, merges);
      if (changes.length > 0) await enqueue(ctx.boss, tx, 'fanout', { changes });
      return changes.length;
    }),
  );
}

/** What a golden record change means to destinations: `profile.*` for a person, `account.*` for an account. */
export type ProfileChange = PersonChange | AccountChange;
export type PersonChange =
  | { profileId: string; event: 'profile.updated' }
  | { profileId: string; event: 'profile.merged'; merged: string[] }
  | { profileId: string; event: 'profile.split'; splitFrom?: string; splitInto?: string[] }
  | { profileId: string; event: 'profile.erased' };
export type AccountChange =
  | { profileId: string; event: 'account.updated' }
  | { profileId: string; event: 'account.merged'; merged: string[] }
  | { profileId: string; event: 'account.split'; splitFrom?: string; splitInto?: string[] }
  | { profileId: string; event: 'account.member_added' | 'account.member_removed'; member: AccountMember };

/**
 * Recomputes the golden records of `profileIds` from their member records and stores those that
 * changed. Returns the changes destinations must hear of; a merge is always news.
 */
export async function refreshGolden(
  tx: Tx,
  profileIds: Iterable<string>,
  priorityOf: (source: string) => number,
  merges: readonly Merge[] = [],
): Promise<ProfileChange[]> {
  const ids = [...new Set(profileIds)];
  if (ids.length === 0) return [];
  // Two set-based reads, one per owner, joined here: the records resolution holds, the statements of them consent holds.
  const members = new Map<string, Member[]>();
  const profileOf = new Map<number, string>();
  for (const row of await liveMembersOf(tx, ids)) {
    profileOf.set(Number(row.id), row.profileId);
    const list = members.get(row.profileId) ?? [];
    list.push({
      source: row.source,
      object: row.object,
      recordId: row.recordId,
      fragment: row.fragment,
      priority: priorityOf(row.source),
      sourceUpdatedAt: row.sourceUpdatedAt ? new Date(row.sourceUpdatedAt) : null,
      observedAt: new Date(row.observedAt),
      mappingFile: row.mappingFile,
      mappingHash: row.mappingHash,
    });
    members.set(row.profileId, list);
  }
  const consent = new Map<string, { purpose: string; status: 'granted' | 'denied'; at: Date; source: string; recordId: string }[]>();
  for (const row of await statementsOfRecords(tx, [...profileOf.keys()])) {
    const profileId = profileOf.get(Number(row.recordPk)) as string;
    const list = consent.get(profileId) ?? [];
    list.push({ purpose: row.purpose, status: row.status, at: new Date(row.at), source: row.source, recordId: row.recordId });
    consent.set(profileId, list);
  }
  const storedRows = rowsOf<
    Pick<typeof profiles.$inferSelect, 'id'> &
      Pick<typeof goldenRecords.$inferSelect, 'goldenHash'> & { entity: Entity; consent: ConsentStatus[] | null; members: AccountMember[] }
  >(
    // An erased profile is never rebuilt: a golden job queued before the erasure finds nothing to do.
    // A profile with no golden record yet has the defaults' empty hash and no members.
    await tx.execute(sql`
      select p.id, p.entity, coalesce(g.golden_hash, '') as "goldenHash", g.golden->'consent' as consent,
        coalesce(g.members, '[]'::jsonb) as members
      from ${profileIdentities} p left join golden_records g on g.profile_id = p.id
      where p.id = any(${uuidArray(ids)}) and p.erased_at is null`),
  );
  const stored = new Map(storedRows.map((r) => [r.id, r.goldenHash]));
  const storedConsent = new Map(storedRows.map((r) => [r.id, r.consent ?? []]));
  const accounts = new Map(storedRows.filter((r) => r.entity === 'account').map((r) => [r.id, r.members]));

  const updates: { id: string; golden: string; lineage: string; hash: string }[] = [];
  const consentChanges: AuditEntry[] = [];
  for (const id of ids) {
    if (!stored.has(id)) continue;
    const built: Built<unknown> = accounts.has(id)
      ? buildAccountGolden((members.get(id) ?? []) as unknown as Member<Account>[])
      : buildGolden(members.get(id) ?? [], consent.get(id) ?? []);
    if (built.hash !== stored.get(id)) {
      updates.push({ id, golden: JSON.stringify(built.golden), lineage: JSON.stringify(built.lineage), hash: built.hash });
      if (!accounts.has(id)) {
        consentChanges.push(
          ...consentChangesOf(id, storedConsent.get(id) ?? [], (built.golden as { consent?: ConsentStatus[] }).consent ?? []),
        );
      }
    }
  }
  const memberChanges = await refreshMembers(tx, accounts);
  // Each change of a profile's consent is audited with the golden record that carries it.
  await audit(tx, ...consentChanges);
  if (updates.length > 0) {
    // The new versions, and their lineage kept for history, in one statement. A first golden
    // record is inserted as version 1, as the defaults' version 0 plus one.
    await tx.execute(sql`
      with updated as (
        insert into golden_records as g (profile_id, golden, lineage, golden_hash, version, updated_at)
        select v.id, v.golden, v.lineage, v.hash, 1, now()
        from unnest(${uuidArray(updates.map((u) => u.id))}, ${sql.param(updates.map((u) => u.golden))}::jsonb[],
          ${sql.param(updates.map((u) => u.lineage))}::jsonb[], ${textArray(updates.map((u) => u.hash))}) as v(id, golden, lineage, hash)
        on conflict (profile_id) do update set golden = excluded.golden, lineage = excluded.lineage,
          golden_hash = excluded.golden_hash, version = g.version + 1, updated_at = now()
        returning g.profile_id as id, g.version, g.lineage)
      insert into lineage_history (profile_id, version, lineage) select id, version, lineage from updated`);
  }

  const mergedInto = new Map(merges.map((m) => [m.survivorId, m.retiredIds]));
  const changed = new Set(updates.map((u) => u.id));
  return ids.flatMap((profileId): ProfileChange[] => {
    if (!stored.has(profileId)) return [];
    const account = accounts.has(profileId);
    const merged = mergedInto.get(profileId);
    const own: ProfileChange[] = merged
      ? [account ? { profileId, event: 'account.merged', merged } : { profileId, event: 'profile.merged', merged }]
      : changed.has(profileId)
        ? [account ? { profileId, event: 'account.updated' } : { profileId, event: 'profile.updated' }]
        : [];
    return [...own, ...(memberChanges.get(profileId) ?? [])];
  });
}

/**
 * Each account's members now, against those destinations last heard of (`golden_records.members`): one
 * `account.member_added` or `account.member_removed` per difference, and the new list stored.
 */
async function refreshMembers(tx: Tx, accounts: ReadonlyMap<string, AccountMember[]>): Promise<Map<string, ProfileChange[]>> {
  const changes = new Map<string, ProfileChange[]>();
  if (accounts.size === 0) return changes;
  const now = await membersOf(tx, [...accounts.keys()]);
  const updates: { id: string; members: string }[] = [];
  for (const [accountId, before] of accounts) {
    const after = now.get(accountId) ?? [];
    const had = new Map(before.map((m) => [memberKey(m), m]));
    const has = new Map(after.map((m) => [memberKey(m), m]));
    const events: ProfileChange[] = [
      ...[...has]
        .filter(([k]) => !had.has(k))
        .map(([, member]) => ({ profileId: accountId, event: 'account.member_added' as const, member })),
      ...[...had]
        .filter(([k]) => !has.has(k))
        .map(([, member]) => ({ profileId: accountId, event: 'account.member_removed' as const, member })),
    ];
    if (events.length === 0) continue;
    changes.set(accountId, events);
    updates.push({ id: accountId, members: JSON.stringify(after) });
  }
  if (updates.length > 0) {
    // Members are not the golden record: a first row keeps the profile's creation as its last change.
    await tx.execute(sql`
      insert into golden_records as g (profile_id, members, updated_at)
      select v.id, v.members, p.created_at
      from unnest(${uuidArray(updates.map((u) => u.id))}, ${sql.param(updates.map((u) => u.members))}::jsonb[]) as v(id, members)
        join ${profileIdentities} p on p.id = v.id
      on conflict (profile_id) do update set members = excluded.members`);
  }
  return changes;
}

/** A purpose whose current status changed, appeared or went away, as audit entries naming the source that said so. */
function consentChangesOf(profileId: string, before: readonly ConsentStatus[], after: readonly ConsentStatus[]): AuditEntry[] {
  const entries: AuditEntry[] = [];
  const was = new Map(before.map((c) => [c.purpose, c]));
  for (const now of after) {
    const prior = was.get(now.purpose);
    was.delete(now.purpose);
    if (prior?.status === now.status) continue;
    entries.push({
      actor: `source:${now.source}`,
      action: 'consent.changed',
      profileId,
      // No record id: ids can be personal data, and the audit log outlives an erasure.
      details: { purpose: now.purpose, from: prior?.status ?? null, to: now.status, at: now.at, source: now.source },
    });
  }
  // A purpose no live record speaks of any more (its records were deleted or moved out).
  for (const gone of was.values()) {
    entries.push({ actor: 'aurum', action: 'consent.changed', profileId, details: { purpose: gone.purpose, from: gone.status, to: null } });
  }
  return entries;
}
