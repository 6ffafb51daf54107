import { and, asc, desc, eq, gt, isNull, lte, sql } from 'drizzle-orm';
import { audit } from '../access/audit.ts';
import { appendConsent } from '../consent/ledger.ts';
import { type Queryable, type Raw, rowsOf, type Tx } from '../db/database.ts';
import type { profiles, recordKeys } from '../db/schema.ts';
import { sourceRecords } from '../db/schema.ts';
import { lockResolution, textArray, timestampArray, uuidArray } from '../db/sql.ts';
import type { AccountFragment, Fragment, PersonFragment } from '../mapping/apply.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import { accountEngineConfig, accountIdentifierKeys, accountModel, accountReferenceKeys } from './account-keys.ts';
import { enforceGuards } from './guards.ts';
import { matchKeys, recordIdentity } from './keys.ts';
import { LinkComponents } from './link-components.ts';
import { lockKeysForLinking, lockProfilesForLinking } from './locks.ts';
import { closeMemberships, syncMemberships } from './memberships.ts';
import type { IdentityConfig } from './probabilistic/config.ts';
import { blockedValues } from './probabilistic/config.ts';
import { type Engine, engineFor, type LinkKey, type Model } from './probabilistic/engine.ts';
import type { Comparable } from './probabilistic/features.ts';
import { type LinkExplanation, type RecordRef, scoreCandidates } from './score-candidates.ts';
import { findTombstoned, keyKind, suppressRecords, tombstoneKeys } from './tombstones.ts';

export interface Merge {
  survivorId: string;
  retiredIds: string[];
}

export interface LinkResult {
  /** Active profiles whose member records changed (including survivors of merges). */
  profileIds: Set<string>;
  merges: Merge[];
  /** Fragments that changed nothing: same content and mapping as stored, or older than stored. */
  unchanged: number;
  /** Fragments of erased people, dropped (see `suppressErased`). */
  suppressed: number;
  /** Keys refused as too long (`MAX_KEY_LENGTH`), by raw record: linked without them, and flagged. */
  refusedKeys: Map<number, number>;
}

/** The longest key, in characters: PostgreSQL's btree entries hold 2,704 bytes, and a UTF-8 character takes up to 4. */
export const MAX_KEY_LENGTH = 512;

type SourceRecord = typeof sourceRecords.$inferSelect;

type ExistingRecord = Raw<
  Pick<SourceRecord, 'source' | 'object' | 'recordId' | 'profileId' | 'rawId' | 'contentHash' | 'mappingHash' | 'sourceUpdatedAt'>
> & { entity: Entity; deleted: boolean };

/**
 * How one entity type's records are keyed: what links them outright, what blocks them for scoring,
 * what is stored beside (so a later model, or a membership, can find them). Persons and accounts go
 * through the same linking with different keys, and every account key starts `a:`, so a person
 * never links to an account.
 */
interface EntityKeys {
  entity: Entity;
  engine: Engine;
  model: Model | undefined;
  linkKeys(record: Comparable): LinkKey[];
  blockingKeys(record: Comparable): string[];
  /** Stored with the record, for lookups, not for linking now. */
  indexKeys(record: Comparable): string[];
}

function personKeys(identity: IdentityConfig, model: Model | undefined): EntityKeys {
  const engine = engineFor(identity);
  const blocked = blockedValues(identity.blockedValues);
  const identifiers = (p: Comparable) => identifierKeys(p, blocked);
  return {
    entity: 'person',
    engine,
    // Before the first training, the default model (documented m, u and prior) scores arrivals:
    // a shared email or phone is evidence, not proof, from the very first record.
    model: model ?? engine.defaultModel(),
    linkKeys: (p) => engine.linkKeys(p),
    blockingKeys: (p) => engine.blockingKeys(p).map((k) => `b${k}`),
    // Every key is stored, whichever links now: a model trained later blocks on what is already there.
    indexKeys: (p) => identifiers(p).map((k) => k.key),
  };
}

function accountKeys(identity: IdentityConfig): EntityKeys {
  const engine = engineFor(accountEngineConfig(identity));
  const blocked = blockedValues(identity.blockedValues);
  const asAccount = (a: Comparable) => a as AccountFragment['profile'];
  return {
    entity: 'account',
    engine,
    model: accountModel(identity.account),
    linkKeys: (a) => accountIdentifierKeys(asAccount(a), identity.account, blocked),
    blockingKeys: (a) => engine.blockingKeys(a).map((k) => `a:b${k}`),
    indexKeys: (a) => accountReferenceKeys(asAccount(a)),
  };
}

const keysOf = (identity: IdentityConfig, entity: Entity, model: Model | undefined) =>
  entity === 'person' ? personKeys(identity, model) : accountKeys(identity);

export interface LinkOptions {
  /**
   * The fragments are stored records mapped again from the raw records they were last mapped from
   * (a mappings rebuild). Each replaces only the record its raw record still is the latest of: one
   * that arrived again meanwhile keeps its newer version, and a record the new version names
   * otherwise (a changed `recordId` or `object`) is not made. Its `updatedAt` is not compared: it
   * is the same arrival.
   */
  remap?: boolean;
  /**
   * The fragments are stored records, as they are (`storedFragmentsAfter`), scored again with the
   * model in force (a links rebuild, after a training). A record that now matches a profile other
   * than its own brings that profile into its own, as an arrival would; one that matches nothing new
   * is left alone, and so is every profile it does not change. Pins and guards apply as for any link.
   */
  relink?: boolean;
}

/**
 * Links a batch of fragments to profiles inside `tx`: persons with persons, accounts with accounts
 * (see `linkEntity`). `model` is the persons' live model; accounts have a declared one.
 */
export async function linkFragments(
  tx: Tx,
  batch: readonly Fragment[],
  identity: IdentityConfig,
  model: Model | undefined,
  options: LinkOptions = {},
): Promise<LinkResult> {
  const persons = batch.filter((f): f is PersonFragment => f.entity === 'person');
  const accounts = batch.filter((f): f is AccountFragment => f.entity === 'account');
  const result: LinkResult = { profileIds: new Set(), merges: [], unchanged: 0, suppressed: 0, refusedKeys: new Map() };
  for (const [entity, fragments] of [
    ['person', persons],
    ['account', accounts],
  ] as const) {
    if (fragments.length === 0) continue;
    const part = await linkEntity(tx, fragments, identity, keysOf(identity, entity, model), options);
    for (const id of part.profileIds) result.profileIds.add(id);
    result.merges.push(...part.merges);
    result.unchanged += part.unchanged;
    result.suppressed += part.suppressed;
    for (const [rawId, n] of part.refusedKeys) result.refusedKeys.set(rawId, (result.refusedKeys.get(rawId) ?? 0) + n);
  }
  return result;
}

/**
 * Links a batch of fragments of one entity type to profiles inside `tx`. A fragment joins the
 * profiles it matches: those holding a record that shares a deterministic key with it (a
 * deterministic rule's key or an external id; for accounts their identifiers), and those holding a
 * record the model (for persons before any training, the default model) scores above the
 * threshold among the candidates its blocking keys find. A fragment that bridges profiles merges
 * them, the oldest surviving. Profiles it does not match are never touched.
 *
 * Concurrency: a linking transaction locks its records' keys before it reads, so it sees every
 * record that could link with them and was linked before it, and the profiles it changes before it
 * changes them (see `locks.ts`); linking transactions that share neither run side by side.
 */
async function linkEntity(
  tx: Tx,
  batch: readonly Fragment[],
  identity: IdentityConfig,
  kind: EntityKeys,
  { remap = false, relink = false }: LinkOptions,
  /** Link the fragments even where they equal the stored records (the second step of a relink). */
  force = false,
): Promise<LinkResult> {
  const { engine, model, entity } = kind;
  // The latest arrival of each record wins within a batch.
  const latest = new Map<string, Fragment>();
  for (const f of [...batch].sort((a, b) => a.rawId - b.rawId)) latest.set(recordIdentity(f), f);
  const fragments = [...latest.values()];
  const blocked = blockedValues(identity.blockedValues);
  // A value too long to be a key (an index entry holds 2.7 kB at most) is refused as one, and flagged.
  const refusedKeys = new Map<number, number>();
  const usable = <K extends string | { key: string }>(i: number, keys: K[]): K[] => {
    const kept = keys.filter((k) => (typeof k === 'string' ? k : k.key).length <= MAX_KEY_LENGTH);
    const rawId = fragments[i]?.rawId as number;
    if (kept.length < keys.length) refusedKeys.set(rawId, (refusedKeys.get(rawId) ?? 0) + keys.length - kept.length);
    return kept;
  };
  const linkKeysOf = fragments.map((f, i) => usable(i, kind.linkKeys(f.profile)));
  const blockingKeysOf = fragments.map((f, i) => usable(i, kind.blockingKeys(f.profile)));
  const storedKeysOf = fragments.map((f, i) => [
    ...new Set([...(linkKeysOf[i] ?? []).map((k) => k.key), ...usable(i, kind.indexKeys(f.profile)), ...(blockingKeysOf[i] ?? [])]),
  ]);

  // A relink's first pass only reads and scores, without locks: arrivals go on meanwhile. What it
  // finds moving is linked again under them, from the records as they are then (`force`).
  if (!relink) {
    await lockKeysForLinking(
      tx,
      fragments.flatMap((f, i) => [
        `record:${recordIdentity(f)}`,
        ...(linkKeysOf[i] ?? []).map((k) => k.key),
        ...(blockingKeysOf[i] ?? []),
      ]),
    );
  }
  // A record of an erased person is dropped, and its payload emptied, rather than re-create them.
  // Checked under the shared resolution lock, so an erasure committed before it is always seen.
  // A stored record scored again (relink) survived every erasure: it is no erased person's, even
  // where it shares a household's email with one.
  const suppressed =
    entity === 'person' && !relink && !force ? await suppressErased(tx, fragments as PersonFragment[], blocked) : new Set<number>();

  const existing = new Map<string, ExistingRecord>();
  for (const row of rowsOf<ExistingRecord>(
    await tx.execute(sql`
      select entity, source, object, record_id as "recordId", profile_id as "profileId", raw_id as "rawId",
        content_hash as "contentHash", mapping_hash as "mappingHash", source_updated_at as "sourceUpdatedAt",
        deleted_at is not null as deleted
      from source_records
      where (source, object, record_id) in (
        select * from unnest(${textArray(fragments.map((f) => f.source))}, ${textArray(fragments.map((f) => f.object))}, ${textArray(fragments.map((f) => f.recordId))}))`),
  )) {
    existing.set(recordIdentity(row), row);
  }

  const changed: {
    fragment: Fragment;
    keys: { key: string; rule: string }[];
    blocking: string[];
    stored: string[];
    current: ExistingRecord | undefined;
  }[] = [];
  const deletions: { fragment: Fragment; current: ExistingRecord }[] = [];
  // Records a mapping now makes of the other type (a partner that became a company): they leave their profile.
  const leftType = new Set<string>();
  for (const [i, fragment] of fragments.entries()) {
    if (suppressed.has(i)) continue;
    const stored = existing.get(recordIdentity(fragment));
    if (remap && Number(stored?.rawId) !== fragment.rawId) continue;
    // A record scored again is linked as it was read: one updated, deleted or gone since is left to
    // its own arrival.
    if (
      force &&
      (!stored ||
        stored.deleted ||
        Number(stored.rawId) !== fragment.rawId ||
        stored.contentHash !== fragment.contentHash ||
        stored.mappingHash !== fragment.mappingHash)
    )
      continue;
    if (!relink && !force && stored && stored.contentHash === fragment.contentHash && stored.mappingHash === fragment.mappingHash) continue;
    const current = stored?.entity === entity ? stored : undefined;
    if (stored && !current) leftType.add(stored.profileId);
    const storedAt = current?.sourceUpdatedAt ? new Date(current.sourceUpdatedAt) : null;
    if (!remap && storedAt && fragment.updatedAt && fragment.updatedAt < storedAt) continue;
    if (fragment.deleted) {
      // Deleting what the hub never held changes nothing.
      if (current) deletions.push({ fragment, current });
      continue;
    }
    if (stored && !current && fragment.deleted) continue;
    changed.push({
      fragment,
      keys: linkKeysOf[i] ?? [],
      blocking: blockingKeysOf[i] ?? [],
      stored: storedKeysOf[i] ?? [],
      current,
    });
  }
  const unchanged = batch.length - changed.length - deletions.length - suppressed.size;
  const deletedFrom = await markDeleted(tx, deletions);
  for (const id of leftType) deletedFrom.add(id);
  if (changed.length === 0) return { profileIds: deletedFrom, merges: [], unchanged, suppressed: suppressed.size, refusedKeys };

  const allKeys = [...new Set(changed.flatMap((c) => c.keys.map((k) => k.key)))];
  const profilesByKey = new Map<string, { profileId: string; record: RecordRef }[]>();
  if (allKeys.length > 0) {
    for (const row of rowsOf<
      Pick<typeof recordKeys.$inferSelect, 'key'> & Pick<SourceRecord, 'profileId' | 'source' | 'object' | 'recordId'>
    >(
      await tx.execute(sql`
        select distinct on (rk.key, sr.profile_id) rk.key, sr.profile_id as "profileId", sr.source, sr.object, sr.record_id as "recordId"
        from record_keys rk join source_records sr on sr.id = rk.record_pk
        where rk.key = any(${textArray(allKeys)}) and sr.entity = ${entity}
        order by rk.key, sr.profile_id, sr.id`),
    )) {
      const found = profilesByKey.get(row.key) ?? [];
      found.push({ profileId: row.profileId, record: { source: row.source, object: row.object, recordId: row.recordId } });
      profilesByKey.set(row.key, found);
    }
  }
  const {
    links: scored,
    vetoed,
    features,
  } = model
    ? await scoreCandidates(
        tx,
        engine,
        model,
        changed.map((c) => c.fragment),
        changed.map((c) => c.blocking),
        changed.map((c) => c.current?.profileId),
      )
    : { links: [], vetoed: new Set<string>(), features: [] };
  if (relink) {
    // Only records that now reach a profile other than their own change anything: those are linked
    // again as arrivals (their stored versions forced through); the rest is not touched at all.
    const own = (i: number) => changed[i]?.current?.profileId;
    const moving = new Set<number>();
    for (const link of scored) {
      const to = link.toProfile ?? (link.toFragment !== undefined ? own(link.toFragment) : undefined);
      if (to !== undefined && to !== own(link.from)) {
        moving.add(link.from);
        if (link.toFragment !== undefined) moving.add(link.toFragment);
      }
    }
    if (moving.size === 0) return { profileIds: new Set(), merges: [], unchanged: changed.length, suppressed: 0, refusedKeys };
    const forced = changed.flatMap((c, i) => (moving.has(i) ? [c.fragment] : []));
    const part = await linkEntity(tx, forced, identity, kind, {}, true);
    return { ...part, unchanged: part.unchanged + changed.length - forced.length };
  }

  const candidates = new Set<string>([
    ...[...profilesByKey.values()].flat().map((p) => p.profileId),
    ...scored.flatMap((l) => (l.toProfile ? [l.toProfile] : [])),
    ...changed.flatMap((c) => (c.current ? [c.current.profileId] : [])),
  ]);
  const { active, seqOf } = await lockProfilesForLinking(tx, candidates);

  // Components of fragments and the active profiles they touch; each fragment keeps its best reason.
  // Deterministic links and a record's own profile join outright; scored links join strongest first,
  // unless they would hold two records that cannot link (see LinkComponents).
  const vetoedActive = new Set(
    [...vetoed].map((v) => {
      const bar = v.indexOf('|');
      return `${v.slice(0, bar)}|${active.get(v.slice(bar + 1)) ?? v.slice(bar + 1)}`;
    }),
  );
  const components = new LinkComponents({
    featuresOf: (i) => features[i],
    cannotLink: (a, b) => model !== undefined && engine.score(model, a, b).cannotLink !== undefined,
    vetoed: (i, profile) => vetoedActive.has(`${i}|${profile}`),
  });
  const keyOwner = new Map<string, number>();
  const touched = changed.map(() => new Set<string>());
  const explanations: (LinkExplanation | undefined)[] = changed.map(() => undefined);
  const explainOnce = (i: number, why: LinkExplanation) => {
    const had = explanations[i];
    // A deterministic rule outranks a score; a higher score outranks a lower one.
    const strength = (e: LinkExplanation) => ('weight' in e ? e.weight : Number.POSITIVE_INFINITY);
    if (!had || strength(why) > strength(had)) explanations[i] = why;
  };
  const refOf = (f: Fragment): RecordRef => ({ source: f.source, object: f.object, recordId: f.recordId });
  const joinProfile = (i: number, profileId: string) => {
    const survivor = active.get(profileId) as string;
    components.union(`f${i}`, `p${survivor}`);
    touched[i]?.add(survivor);
  };
  for (const [i, { keys, current, fragment }] of changed.entries()) {
    components.find(`f${i}`);
    if (current) joinProfile(i, current.profileId);
    for (const { key, rule } of keys) {
      for (const found of profilesByKey.get(key) ?? []) {
        joinProfile(i, found.profileId);
        if (!sameRecord(found.record, fragment)) explainOnce(i, { rule, with: found.record });
      }
      const other = keyOwner.get(key);
      if (other === undefined) keyOwner.set(key, i);
      else {
        components.union(`f${i}`, `f${other}`);
        const first = changed[other]?.fragment as Fragment;
        explainOnce(i, { rule, with: refOf(first) });
        explainOnce(other, { rule, with: refOf(fragment) });
      }
    }
  }
  for (const link of [...scored].sort((a, b) => b.explanation.weight - a.explanation.weight)) {
    if (link.toProfile) {
      const survivor = active.get(link.toProfile) as string;
      if (!components.tryUnion(`f${link.from}`, `p${survivor}`, link.toFeatures)) continue;
      touched[link.from]?.add(survivor);
      explainOnce(link.from, link.explanation);
    }
    if (link.toFragment !== undefined) {
      if (!components.tryUnion(`f${link.from}`, `f${link.toFragment}`)) continue;
      explainOnce(link.from, link.explanation);
      explainOnce(link.toFragment, { ...link.explanation, with: refOf(changed[link.from]?.fragment as Fragment) });
    }
  }

  const groups = new Map<string, { fragments: number[]; profiles: Set<string> }>();
  for (const i of changed.keys()) {
    const root = components.find(`f${i}`);
    const group = groups.get(root) ?? { fragments: [], profiles: new Set<string>() };
    group.fragments.push(i);
    groups.set(root, group);
  }
  for (const id of new Set(active.values())) {
    const group = groups.get(components.find(`p${id}`));
    group?.profiles.add(id);
  }

  await enforceGuards(
    tx,
    groups,
    touched,
    seqOf,
    (i) => changed[i]?.fragment,
    (i) => {
      const current = changed[i]?.current;
      return current ? active.get(current.profileId) : undefined;
    },
    identity.guards,
  );

  const needNew = [...groups.values()].filter((g) => g.profiles.size === 0);
  const created = needNew.length
    ? rowsOf<Pick<typeof profiles.$inferSelect, 'id'>>(
        await tx.execute(sql`insert into profiles (entity) select ${entity} from generate_series(1, ${needNew.length}) returning id`),
      )
    : [];
  for (const [i, group] of needNew.entries()) group.profiles.add((created[i] as { id: string }).id);

  const merges: Merge[] = [];
  const profileOf = new Map<number, string>();
  const profileIds = new Set<string>();
  for (const group of groups.values()) {
    const [survivorId, ...retiredIds] = [...group.profiles].sort((a, b) => (seqOf.get(a) ?? Infinity) - (seqOf.get(b) ?? Infinity));
    if (!survivorId) continue;
    profileIds.add(survivorId);
    for (const i of group.fragments) profileOf.set(i, survivorId);
    if (retiredIds.length > 0) {
      await retire(tx, entity, survivorId, retiredIds, 'link', 'aurum', null, {
        records: group.fragments.map((i) => ({ ...refOf(changed[i]?.fragment as Fragment), linkedBy: explanations[i] ?? null })),
        keys: [...new Set(group.fragments.flatMap((i) => (changed[i]?.keys ?? []).map((k) => k.key).filter((k) => profilesByKey.has(k))))],
      });
      merges.push({ survivorId, retiredIds });
    }
  }

  await writeRecords(
    tx,
    entity,
    changed.map((c, i) => ({
      fragment: c.fragment,
      keys: c.stored,
      profileId: profileOf.get(i) as string,
      // A known record that matched nothing new keeps the reason it had.
      link: explanations[i] ?? (c.current ? null : { rule: 'first record' }),
    })),
  );
  for (const id of deletedFrom) profileIds.add(id);
  return { profileIds, merges, unchanged, suppressed: suppressed.size, refusedKeys };
}

/**
 * Records whose vendor deleted or archived them leave their profile's golden record: marked
 * deleted (the row, its lineage and history stay), their keys removed so nothing links to them.
 * Returns the profiles to rebuild. A later, newer version of the record brings it back. The
 * mapping version that judged it deleted is recorded, so a mappings rebuild knows it is current.
 */
async function markDeleted(tx: Tx, deletions: { fragment: Fragment; current: ExistingRecord }[]): Promise<Set<string>> {
  if (deletions.length === 0) return new Set();
  const rows = rowsOf<Raw<Pick<SourceRecord, 'id' | 'profileId'>>>(
    await tx.execute(sql`
      update source_records sr set deleted_at = coalesce(sr.deleted_at, now()), raw_id = d.raw_id, content_hash = d.content_hash,
        source_updated_at = d.updated_at, mapping_file = d.mapping_file, mapping_hash = d.mapping_hash, updated_at = now()
      from unnest(${textArray(deletions.map((d) => d.fragment.source))}, ${textArray(deletions.map((d) => d.fragment.object))},
        ${textArray(deletions.map((d) => d.fragment.recordId))}, ${sql.param(deletions.map((d) => String(d.fragment.rawId)))}::bigint[],
        ${textArray(deletions.map((d) => d.fragment.contentHash))},
        ${timestampArray(deletions.map((d) => d.fragment.updatedAt?.toISOString() ?? null))},
        ${textArray(deletions.map((d) => d.fragment.mappingFile))}, ${textArray(deletions.map((d) => d.fragment.mappingHash))})
        as d(source, object, record_id, raw_id, content_hash, updated_at, mapping_file, mapping_hash)
      where sr.source = d.source and sr.object = d.object and sr.record_id = d.record_id
      returning sr.id, sr.profile_id as "profileId"`),
  );
  await tx.execute(sql`delete from record_keys where record_pk = any(${sql.param(rows.map((r) => r.id))}::bigint[])`);
  await closeMemberships(
    tx,
    rows.map((r) => Number(r.id)),
  );
  return new Set(rows.map((r) => r.profileId));
}

/** Emails and phones as keys: stored for lookups and erasure, never linking outright. */
function identifierKeys(profile: Comparable, blocked: ReadonlySet<string>): { key: string; rule: string }[] {
  return matchKeys(profile, blocked).map((key) => ({ key, rule: key.startsWith('email:') ? 'emails' : 'phones' }));
}

const sameRecord = (r: RecordRef, f: Fragment) => r.source === f.source && r.object === f.object && r.recordId === f.recordId;

/**
 * The fragments (by index) whose record or identifiers an erasure tombstoned. Each is logged in
 * `suppressions` and its raw payload emptied, as the erasure emptied the others.
 */
async function suppressErased(tx: Tx, fragments: readonly PersonFragment[], blocked: ReadonlySet<string>): Promise<Set<number>> {
  const keysOf = fragments.map((f) => tombstoneKeys(f, f.profile, blocked));
  const tombstoned = await findTombstoned(tx, keysOf.flat());
  const suppressed = new Set<number>();
  if (tombstoned.size === 0) return suppressed;
  const rows: { erasureId: string; source: string; rawId: number; matched: string }[] = [];
  for (const [i, keys] of keysOf.entries()) {
    const hit = keys.find((k) => tombstoned.has(k));
    const fragment = fragments[i];
    if (!hit || !fragment) continue;
    suppressed.add(i);
    rows.push({ erasureId: tombstoned.get(hit) as string, source: fragment.source, rawId: fragment.rawId, matched: keyKind(hit) });
  }
  await suppressRecords(tx, rows);
  return suppressed;
}

/** Retires profiles (or accounts) into a survivor: their records, redirects and history follow. */
export async function retire(
  tx: Tx,
  entity: Entity,
  survivorId: string,
  retiredIds: string[],
  kind: 'link' | 'manual',
  actor: string,
  reason: string | null,
  details: object,
) {
  const retired = uuidArray(retiredIds);
  await tx.execute(sql`update profiles set merged_into = ${survivorId}, updated_at = now() where id = any(${retired})`);
  // Keep redirects one hop long: ids retired earlier into these now answer with the survivor too.
  await tx.execute(sql`update profiles set merged_into = ${survivorId} where merged_into = any(${retired})`);
  await tx.execute(sql`update source_records set profile_id = ${survivorId} where profile_id = any(${retired})`);
  await recordDecision(tx, { survivorId, retiredIds, kind, details, actor, reason });
  await audit(tx, {
    actor,
    action: entity === 'account' ? 'account.merged' : 'profile.merged',
    profileId: survivorId,
    reason,
    details: { retired: retiredIds, kind },
  });
}

/** Appends a merge, split or refusal to the history (`profile_merges`, this module's). */
export async function recordDecision(
  tx: Tx,
  d: {
    survivorId: string;
    retiredIds: string[];
    kind: 'link' | 'manual' | 'split' | 'refused';
    details: object;
    actor: string;
    reason: string | null;
  },
) {
  await tx.execute(sql`
    insert into profile_merges (survivor_id, retired_ids, kind, details, actor, reason)
    values (${d.survivorId}, ${uuidArray(d.retiredIds)}, ${d.kind}, ${JSON.stringify(d.details)}::jsonb, ${d.actor}, ${d.reason})`);
}

async function writeRecords(
  tx: Tx,
  entity: Entity,
  rows: { fragment: Fragment; keys: string[]; profileId: string; link: LinkExplanation | null }[],
) {
  const col = <T>(pick: (r: (typeof rows)[number]) => T) => rows.map(pick);
  const written = rowsOf<Raw<Pick<SourceRecord, 'id' | 'source' | 'object' | 'recordId'>>>(
    await tx.execute(sql`
      insert into source_records as sr (entity, source, object, record_id, profile_id, raw_id, content_hash, fragment,
        mapping_file, mapping_hash, source_updated_at, observed_at, link, violations)
      select ${entity}, * from unnest(
        ${textArray(col((r) => r.fragment.source))}, ${textArray(col((r) => r.fragment.object))},
        ${textArray(col((r) => r.fragment.recordId))}, ${uuidArray(col((r) => r.profileId))},
        ${sql.param(col((r) => String(r.fragment.rawId)))}::bigint[], ${textArray(col((r) => r.fragment.contentHash))},
        ${sql.param(col((r) => JSON.stringify(r.fragment.profile)))}::jsonb[],
        ${textArray(col((r) => r.fragment.mappingFile))}, ${textArray(col((r) => r.fragment.mappingHash))},
        ${timestampArray(col((r) => r.fragment.updatedAt?.toISOString() ?? null))},
        ${timestampArray(col((r) => r.fragment.observedAt.toISOString()))},
        ${sql.param(col((r) => (r.link ? JSON.stringify(r.link) : null)))}::jsonb[],
        ${sql.param(col((r) => (r.fragment.violations ? JSON.stringify(r.fragment.violations) : null)))}::jsonb[])
      on conflict (source, object, record_id) do update set
        entity = excluded.entity, profile_id = excluded.profile_id, raw_id = excluded.raw_id, content_hash = excluded.content_hash,
        fragment = excluded.fragment, mapping_file = excluded.mapping_file, mapping_hash = excluded.mapping_hash,
        source_updated_at = excluded.source_updated_at, observed_at = excluded.observed_at,
        link = coalesce(excluded.link, sr.link), violations = excluded.violations, deleted_at = null, updated_at = now()
      returning id, source, object, record_id as "recordId"`),
  );
  const pkOf = new Map(written.map((w) => [recordIdentity(w), String(w.id)]));
  const pks = rows.map((r) => pkOf.get(recordIdentity(r.fragment)) as string);

  await tx.execute(sql`delete from record_keys where record_pk = any(${sql.param(pks)}::bigint[])`);
  const keyRows = rows.flatMap((r, i) => r.keys.map((key) => [key, pks[i] as string] as const));
  if (keyRows.length > 0) {
    await tx.execute(sql`
      insert into record_keys (key, record_pk)
      select * from unnest(${textArray(keyRows.map((k) => k[0]))}, ${sql.param(keyRows.map((k) => k[1]))}::bigint[])
      on conflict do nothing`);
  }

  if (entity === 'person') {
    await syncMemberships(
      tx,
      rows.map((r, i) => ({
        recordPk: Number(pks[i]),
        source: r.fragment.source,
        memberships: (r.fragment as PersonFragment).profile.accounts ?? [],
      })),
    );
  } else {
    // A record that was a person's and is now an account's states no membership any more.
    await closeMemberships(tx, pks.map(Number));
  }
  const consent = rows.flatMap((r, i) =>
    r.fragment.entity === 'person'
      ? (r.fragment.profile.consent ?? []).map((c) => ({ ...c, pk: pks[i] as string, fragment: r.fragment }))
      : [],
  );
  await appendConsent(
    tx,
    consent.map((c) => ({
      recordPk: c.pk,
      source: c.fragment.source,
      recordId: c.fragment.recordId,
      purpose: c.purpose,
      status: c.status,
      at: c.at,
      statedAt: c.statedAt ?? null,
      mappingFile: c.fragment.mappingFile,
      mappingHash: c.fragment.mappingHash,
    })),
  );
}

/** Every key stored for a record: link, index and blocking keys, those short enough to be keys. */
function keysToStore(kind: EntityKeys, record: Comparable): string[] {
  const keys = new Set([...kind.linkKeys(record).map((k) => k.key), ...kind.indexKeys(record), ...kind.blockingKeys(record)]);
  return [...keys].filter((k) => k.length <= MAX_KEY_LENGTH);
}

/**
 * Derives again, from their stored fragments, the keys of up to `limit` live records with ids after
 * `afterId` (`identity` has new rules). Under the resolution lock, so linking sees a record's old
 * keys or its new ones, never none. Returns the last id done (null when none was left) and how many.
 */
export async function rederiveKeys(
  tx: Tx,
  identity: IdentityConfig,
  afterId: number,
  limit: number,
): Promise<{ lastId: number | null; count: number }> {
  await tx.execute(lockResolution());
  const records = rowsOf<Raw<Pick<SourceRecord, 'id'>> & { entity: Entity; fragment: Comparable }>(
    await tx.execute(sql`
      select id, entity, fragment from source_records where id > ${afterId} and deleted_at is null order by id limit ${limit}`),
  );
  if (records.length === 0) return { lastId: null, count: 0 };
  // Whatever model is in force, every key is stored: the person kind without one yields them all.
  const kinds = { person: personKeys(identity, undefined), account: accountKeys(identity) };
  const pks = records.map((r) => String(r.id));
  await tx.execute(sql`delete from record_keys where record_pk = any(${sql.param(pks)}::bigint[])`);
  const keyRows = records.flatMap((r, i) => keysToStore(kinds[r.entity], r.fragment).map((key) => [key, pks[i] as string] as const));
  if (keyRows.length > 0) {
    await tx.execute(sql`
      insert into record_keys (key, record_pk)
      select * from unnest(${textArray(keyRows.map((k) => k[0]))}, ${sql.param(keyRows.map((k) => k[1]))}::bigint[])
      on conflict do nothing`);
  }
  return { lastId: Number(records[records.length - 1]?.id), count: records.length };
}

/**
 * A page of the stored person records after `afterId`, as the fragments they were linked from (for
 * a links rebuild); deleted records are left out, as they link nothing.
 */
export async function storedFragmentsAfter(
  db: Queryable,
  afterId: number,
  limit: number,
  /** The last id to reach (none: to the end). */
  until?: number,
): Promise<{ fragments: Fragment[]; lastId: number | null }> {
  const rows = await db
    .select()
    .from(sourceRecords)
    .where(
      and(
        gt(sourceRecords.id, afterId),
        until === undefined ? undefined : lte(sourceRecords.id, until),
        eq(sourceRecords.entity, 'person'),
        isNull(sourceRecords.deletedAt),
      ),
    )
    .orderBy(asc(sourceRecords.id))
    .limit(limit);
  const fragments = rows.map(
    (r): Fragment => ({
      entity: 'person',
      rawId: r.rawId,
      source: r.source,
      object: r.object,
      recordId: r.recordId,
      contentHash: r.contentHash,
      updatedAt: r.sourceUpdatedAt,
      observedAt: r.observedAt,
      mappingFile: r.mappingFile,
      mappingHash: r.mappingHash,
      profile: r.fragment as PersonFragment['profile'],
      ...(r.violations ? { violations: r.violations as NonNullable<Fragment['violations']> } : {}),
    }),
  );
  return { fragments, lastId: rows.at(-1)?.id ?? null };
}

/** How many live person records a links rebuild walks (up to id `until`, if given). */
export async function countLivePersonRecords(db: Queryable, until?: number): Promise<number> {
  return db.$count(
    sourceRecords,
    and(
      eq(sourceRecords.entity, 'person'),
      isNull(sourceRecords.deletedAt),
      until === undefined ? undefined : lte(sourceRecords.id, until),
    ),
  );
}

/** The id of the last person record stored, if any. */
export async function lastPersonRecordId(db: Queryable): Promise<number | undefined> {
  const [row] = await db
    .select({ id: sourceRecords.id })
    .from(sourceRecords)
    .where(eq(sourceRecords.entity, 'person'))
    .orderBy(desc(sourceRecords.id))
    .limit(1);
  return row?.id;
}

/** Live records (not deleted by their source): what a rebuild of keys goes through. */
export async function countLiveRecords(db: Queryable): Promise<number> {
  return db.$count(sourceRecords, isNull(sourceRecords.deletedAt));
}
