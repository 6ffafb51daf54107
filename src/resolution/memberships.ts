import { sql } from 'drizzle-orm';
import { type Queryable, type Raw, rowsOf, type Tx } from '../db/database.ts';
import type { memberships, sourceRecords } from '../db/schema.ts';
import { bigintArray, textArray, uuidArray } from '../db/sql.ts';
import type { AccountRef, Membership } from '../mapping/profile.ts';
import { referenceKey } from './account-keys.ts';

/**
 * The memberships each person record states now: new ones open, those it no longer states close
 * (`valid_to`), a changed role is updated in place. The `memberships` table is this module's.
 */
export async function syncMemberships(tx: Tx, records: { recordPk: number; source: string; memberships: readonly Membership[] }[]) {
  if (records.length === 0) return;
  const rows = records.flatMap((r) => {
    const byKey = new Map<string, Membership>();
    for (const m of r.memberships) byKey.set(referenceKey(m.ref), m);
    return [...byKey].map(([key, m]) => ({ recordPk: r.recordPk, source: r.source, key, ref: m.ref, role: m.role ?? null }));
  });
  await tx.execute(sql`
    update memberships m set valid_to = greatest(now(), m.valid_from)
    where m.record_pk = any(${bigintArray(records.map((r) => r.recordPk))}) and m.valid_to is null
      and (m.record_pk, m.ref_key) not in (
        select * from unnest(${bigintArray(rows.map((r) => r.recordPk))}, ${textArray(rows.map((r) => r.key))}))`);
  if (rows.length === 0) return;
  await tx.execute(sql`
    insert into memberships as m (record_pk, source, ref_key, ref, role)
    select * from unnest(${bigintArray(rows.map((r) => r.recordPk))}, ${textArray(rows.map((r) => r.source))},
      ${textArray(rows.map((r) => r.key))}, ${sql.param(rows.map((r) => JSON.stringify(r.ref)))}::jsonb[],
      ${sql.param(rows.map((r) => r.role))}::text[])
    on conflict (record_pk, ref_key) where valid_to is null do update set role = excluded.role, ref = excluded.ref
      where m.role is distinct from excluded.role or m.ref is distinct from excluded.ref`);
}

/** Closes every open membership of these records (deleted by their vendor, or no longer a person's). */
export async function closeMemberships(tx: Tx, recordPks: readonly number[]) {
  if (recordPks.length === 0) return;
  await tx.execute(sql`
    update memberships set valid_to = greatest(now(), valid_from)
    where record_pk = any(${bigintArray(recordPks)}) and valid_to is null`);
}

/** A person's membership of an account, as `GET /accounts/:id` lists it. */
export interface Member {
  profileId: string;
  role: string | null;
  source: string;
  validFrom: string;
}

/**
 * What tells one membership from another, to destinations: a changed role is the old membership
 * removed and a new one added; `validFrom` is an attribute, not part of it.
 */
export const memberKey = (m: Member) => `${m.profileId}|${m.source}|${m.role ?? ''}`;

/**
 * The members of each account now: the live persons whose records state an open membership naming
 * one of the account's keys, and no other account's. One person stated by two sources is a member
 * twice (each source says so).
 */
export async function membersOf(db: Queryable, accountIds: readonly string[]): Promise<Map<string, Member[]>> {
  const out = new Map<string, Member[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return out;
  const rows = rowsOf<
    Pick<typeof sourceRecords.$inferSelect, 'profileId'> &
      Raw<Pick<typeof memberships.$inferSelect, 'role' | 'source' | 'validFrom'>> & { accountId: string }
  >(
    await db.execute(sql`
      select a.profile_id as "accountId", p.profile_id as "profileId", m.role, m.source, min(m.valid_from) as "validFrom"
      from source_records a
      join record_keys rk on rk.record_pk = a.id
      join memberships m on m.ref_key = rk.key and m.valid_to is null
      join source_records p on p.id = m.record_pk and p.deleted_at is null and p.entity = 'person'
      join profiles pp on pp.id = p.profile_id and pp.erased_at is null
      where a.profile_id = any(${uuidArray(accountIds)}) and a.entity = 'account' and a.deleted_at is null
        -- A reference two accounts answer to (two companies called "Initech") names neither.
        and not exists (
          select 1 from record_keys rk2 join source_records a2 on a2.id = rk2.record_pk
          where rk2.key = rk.key and a2.entity = 'account' and a2.deleted_at is null and a2.profile_id <> a.profile_id)
      group by a.profile_id, p.profile_id, m.role, m.source
      order by min(m.valid_from), p.profile_id, m.source`),
  );
  for (const r of rows) {
    out.get(r.accountId)?.push({ profileId: r.profileId, role: r.role, source: r.source, validFrom: new Date(r.validFrom).toISOString() });
  }
  return out;
}

/** The accounts the records of these persons name or named: their member lists may have changed. */
export async function accountsOfPersons(db: Queryable, personIds: readonly string[]): Promise<string[]> {
  if (personIds.length === 0) return [];
  const rows = rowsOf<Pick<typeof sourceRecords.$inferSelect, 'profileId'>>(
    await db.execute(sql`
      select distinct a.profile_id as "profileId" from source_records p
      join memberships m on m.record_pk = p.id
      join record_keys rk on rk.key = m.ref_key
      join source_records a on a.id = rk.record_pk and a.entity = 'account'
      where p.profile_id = any(${uuidArray(personIds)}) and p.entity = 'person'`),
  );
  return rows.map((r) => r.profileId);
}

/**
 * A person's memberships, open and closed, each with the account it resolves to now: null while no
 * account answers to it, or while several do (`ambiguous`: two companies called "Initech").
 */
export async function membershipsOfPerson(
  db: Queryable,
  personId: string,
): Promise<
  { accountId: string | null; ref: AccountRef; role: string | null; source: string; validFrom: string; validTo: string | null }[]
> {
  const rows = rowsOf<
    Raw<Pick<typeof memberships.$inferSelect, 'role' | 'source' | 'validFrom' | 'validTo'>> & {
      accountId: string | null;
      candidates: string | number;
      ref: AccountRef;
    }
  >(
    await db.execute(sql`
      select a.account_id as "accountId", a.candidates, m.ref, m.role, m.source, m.valid_from as "validFrom", m.valid_to as "validTo"
      from source_records p
      join memberships m on m.record_pk = p.id
      cross join lateral (
        select case when count(distinct a.profile_id) = 1 then min(a.profile_id::text)::uuid end as account_id,
          count(distinct a.profile_id) as candidates
        from record_keys rk
        join source_records a on a.id = rk.record_pk and a.entity = 'account' and a.deleted_at is null
        where rk.key = m.ref_key) a
      where p.profile_id = ${personId} and p.entity = 'person'
      order by m.valid_to is not null, m.valid_from, m.id`),
  );
  return rows.map((r) => ({
    accountId: r.accountId,
    ambiguous: Number(r.candidates) > 1,
    ref: r.ref,
    role: r.role,
    source: r.source,
    validFrom: new Date(r.validFrom).toISOString(),
    validTo: r.validTo ? new Date(r.validTo).toISOString() : null,
  }));
}
