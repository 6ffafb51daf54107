import { sql } from 'drizzle-orm';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { audit } from '../access/audit.ts';
import { type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { erasures } from '../db/schema.ts';
import { lockResolution } from '../db/sql.ts';
import { rawRecordsHolding } from '../intake/store.ts';
import { mapRecord } from '../mapping/apply.ts';
import type { Profile } from '../mapping/profile.ts';
import { failedRawIdsQuery } from '../mapping/quarantine-store.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { recordIdentity } from '../resolution/keys.ts';
import { lockProfiles } from '../resolution/locks.ts';
import { accountsOfPersons } from '../resolution/memberships.ts';
import { blockedValues } from '../resolution/probabilistic/config.ts';
import { linkedRawIds, recordsOfProfile, resolveProfileId, retiredInto, type StoredRecord } from '../resolution/read.ts';
import { addTombstones, payloadIdentifierKeys, tombstoneKeys } from '../resolution/tombstones.ts';
import { erasedTables, runErasers } from './erasers.ts';

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

type Member = Pick<StoredRecord, 'id' | 'source' | 'object' | 'recordId' | 'rawId'> & { fragment: Profile };

/**
 * `POST /profiles/:id/erase`: removes a person's personal data, in one transaction under the
 * resolution lock, so no record can link to the profile half-way. Every module that stores personal
 * data removes the person from its tables (the erasers of `compliance/erasers.ts`, in pipeline order):
 * - the raw payloads of its records (every version held), and of failed records holding its
 *   identifiers, emptied, and their quarantine messages;
 * - its member records, with their keys, pins and consent entries, deleted; the record ids in its
 *   merge history, removed;
 * - its golden record and lineage (and those of profiles merged into it), emptied, and its lineage history deleted;
 * - the bodies of its deliveries, emptied, and those not yet sent withdrawn with their jobs.
 * It keeps salted hashes of the identifiers, so a later record of the person is suppressed rather
 * than re-create them; the erasure is audited, and every destination hears `profile.erased` for
 * the profile and for each id merged into it.
 * After it commits, the tables it emptied are vacuumed (see `vacuumErased`).
 */
export async function eraseProfile(
  ctx: PipelineContext,
  askedId: string,
  actor: { name: string; reason: string | null },
): Promise<ErasureResult | undefined> {
  const result = await ctx.database.db.transaction(async (tx) => {
    await tx.execute(lockResolution());
    const id = await resolveProfileId(tx, askedId);
    if (!id) return undefined;
    const retiredIds = await retiredInto(tx, id);
    const profileIds = [id, ...retiredIds];
    // Wait for a golden rebuild of the profile in flight, as decisions do.
    await lockProfiles(tx, new Set(profileIds));

    const members: Member[] = (await recordsOfProfile(tx, id)).map((r) => ({
      id: r.id,
      source: r.source,
      object: r.object,
      recordId: r.recordId,
      rawId: r.rawId,
      // A person's records hold the Profile their mapping made.
      fragment: r.fragment as Profile,
    }));
    const blocked = blockedValues(ctx.workspace().identity.blockedValues);
    const keys = [
      ...new Set(members.flatMap((m) => tombstoneKeys({ source: m.source, object: m.object, recordId: m.recordId }, m.fragment, blocked))),
    ];
    const rawIds = await rawVersions(ctx, tx, members, keys);

    const [erasure] = rowsOf<RawRow<typeof erasures, 'id' | 'at'>>(
      await tx.execute(sql`
        insert into erasures (profile_id, actor, reason, records, raw_records, identifiers)
        values (${id}, ${actor.name}, ${actor.reason}, ${members.length}, ${rawIds.length}, ${keys.length})
        returning id, at`),
    );
    // An insert returns its row.
    const { id: erasureId, at: erasedAt } = erasure as NonNullable<typeof erasure>;
    await addTombstones(tx, erasureId, keys);

    // The accounts the person belonged to lose a member: their member lists are rebuilt after it.
    const accounts = await accountsOfPersons(tx, [id]);
    const { deliveriesWithdrawn } = await runErasers(
      tx,
      {
        profileId: id,
        profileIds,
        accountIds: accounts,
        recordPks: members.map((m) => Number(m.id)),
        rawIds,
        identifiers: keys,
      },
      ctx.boss,
    );
    await audit(tx, {
      actor: actor.name,
      action: 'profile.erased',
      profileId: id,
      reason: actor.reason,
      details: { erasure: erasureId, records: members.length, rawRecords: rawIds.length, identifiers: keys.length },
    });
    // A destination may hold the person under an id merged away since (sent before the merge): every id is erased.
    await enqueue(ctx.boss, tx, 'fanout', {
      changes: profileIds.map((profileId) => ({ profileId, event: 'profile.erased' as const })),
    });
    if (accounts.length > 0) await enqueue(ctx.boss, tx, 'golden', { profileIds: accounts, merges: [] });
    return {
      id,
      erasureId,
      erasedAt: new Date(erasedAt).toISOString(),
      retiredIds,
      records: members.length,
      rawRecords: rawIds.length,
      identifiers: keys.length,
      deliveriesWithdrawn,
    };
  });
  // In the background: vacuuming a large table takes minutes, and the erasure has already committed.
  if (result) void vacuumErased(ctx);
  return result;
}

/**
 * An emptied or deleted row stays on disk as a dead tuple, readable in the data files, until
 * VACUUM prunes it: run after the erasure commits (VACUUM cannot run in a transaction), one table
 * at a time so no lock is held long. It takes no lock that blocks reads or writes. A failure
 * leaves the erasure done (autovacuum gets there later) and is logged, never thrown.
 */
async function vacuumErased(ctx: PipelineContext): Promise<void> {
  for (const table of erasedTables()) {
    try {
      await ctx.database.db.execute(sql.raw(`vacuum ${table}`));
    } catch (error) {
      ctx.log.warn({ table, error: (error as Error).message }, 'vacuum after an erasure failed; autovacuum will prune the rows later');
    }
  }
}

/**
 * Every raw record holding the person. A record links to its latest raw version only, so earlier
 * ones are found by text (raws of the same sources holding one of the record ids, emails or phone
 * numbers) and confirmed by mapping them again: a raw is erased if it maps to one of these records,
 * or if it maps to nothing (it was quarantined) and holds one of the person's identifiers. Raws of
 * any source that failed mapping and hold one of the person's emails or phones anywhere (an
 * invalid email beside the person's name and phone) are erased too: nothing else would ever
 * remove them.
 */
async function rawVersions(ctx: PipelineContext, tx: Tx, members: Member[], keys: readonly string[]): Promise<number[]> {
  const ids = new Set(members.map((m) => Number(m.rawId)));
  if (members.length === 0) return [];
  const wanted = new Set(members.map((m) => recordIdentity({ source: m.source, object: m.object, recordId: m.recordId })));
  const personal = new Set(keys.filter((k) => k.startsWith('email:') || k.startsWith('phone:')));
  const emails = [...personal].filter((k) => k.startsWith('email:')).map((k) => k.slice('email:'.length));
  // Payloads hold phones as typed (07400 123456): their digits hold the national number.
  const phoneDigits = [...personal]
    .filter((k) => k.startsWith('phone:'))
    .flatMap((k) => parsePhoneNumberFromString(k.slice('phone:'.length))?.nationalNumber ?? []);
  const idsOf = new Map<string, Set<string>>();
  for (const m of members) idsOf.set(m.source, (idsOf.get(m.source) ?? new Set()).add(m.recordId));
  // Raws of the person's sources, and raws of any source whose mapping failed (quarantined, never linked).
  const holding = { texts: [...members.map((m) => m.recordId), ...emails], digits: phoneDigits };
  const except = [...ids];
  const ofSources = await rawRecordsHolding(tx, { sources: [...idsOf.keys()] }, holding, except);
  const failed = await rawRecordsHolding(tx, { rawIdsIn: failedRawIdsQuery() }, holding, except);
  const linked = await linkedRawIds(
    tx,
    failed.map((r) => r.id),
  );
  const candidates = [
    ...ofSources.map((raw) => ({ ...raw, unlinked: false })),
    ...failed.filter((raw) => !linked.has(raw.id)).map((raw) => ({ ...raw, unlinked: true })),
  ];
  const mappings = ctx.workspace().mappings;
  for (const raw of candidates) {
    const { fragments } = await mapRecord(
      { id: raw.id, source: raw.source, receivedAt: raw.receivedAt, contentHash: raw.contentHash, payload: raw.payload },
      mappings,
      { defaultRegion: ctx.settings.defaultRegion },
    );
    // A record that maps yet was never linked (it failed later, in linking or a guard) holds the
    // person by its values, as one that fails mapping does.
    const ours =
      fragments.some((f) => wanted.has(recordIdentity(f))) ||
      ((fragments.length === 0 || raw.unlinked) &&
        (payloadIdentifierKeys(raw.payload, { defaultRegion: ctx.settings.defaultRegion }).some((k) => personal.has(k)) ||
          holdsValue(raw.payload, idsOf.get(raw.source))));
    if (ours) ids.add(raw.id);
  }
  return [...ids];
}

/**
 * Whether a payload holds one of `values` (the person's record ids in its source) as the whole
 * value of an id field (`id`, `customer_id`, `contactId`…), at any depth. Only id fields: a
 * numeric record id (HubSpot's 101) also turns up as a count or an amount in someone else's record.
 */
function holdsValue(payload: unknown, values: ReadonlySet<string> | undefined): boolean {
  if (!values || values.size === 0) return false;
  const stack: unknown[] = [payload];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) for (const inner of value) stack.push(inner);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if ((typeof inner === 'string' || typeof inner === 'number') && /id$/i.test(key) && values.has(String(inner))) return true;
        if (inner !== null && typeof inner === 'object') stack.push(inner);
      }
    }
  }
  return false;
}
