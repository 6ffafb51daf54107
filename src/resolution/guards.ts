import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/database.ts';
import type { sourceRecords } from '../db/schema.ts';
import { uuidArray } from '../db/sql.ts';
import type { Fragment } from '../mapping/apply.ts';

/** Fragments (by index) and the profiles they would join, as linking groups them. */
export type Group = { fragments: number[]; profiles: Set<string> };

export interface Guards {
  uniqueSystems: readonly string[];
  maxPerProfile: { emails?: number; phones?: number; externalIds?: number };
}

interface Inventory {
  emails: Set<string>;
  phones: Set<string>;
  externalIds: Set<string>;
  bySystem: Map<string, Set<string>>;
}

/** A record quarantined because it alone carries more identifiers of a type than a profile may hold. */
export interface IdentifierLimitFailure {
  rawId: number;
  source: string;
  mappingFile: string;
  code: 'too_many_identifiers';
  message: string;
}

/**
 * `maxPerProfile` bounds a single record too: a fragment carrying more distinct emails, phones or
 * external ids than a profile may hold could never sit in a valid profile (a record with 30,000
 * emails is a mailing list, or a mapping gone wrong). It is quarantined alone, whole, rather than
 * trimmed: which of its values are the person's is the mapping's call, not the hub's, and a
 * quarantined record can be replayed once the mapping or the limit is fixed. The message gives
 * the counts and the limit, never a value. Call it before linking; the rest of the batch goes on.
 */
export function limitIdentifiers(fragments: readonly Fragment[], guards: Guards): { kept: Fragment[]; failures: IdentifierLimitFailure[] } {
  const kept: Fragment[] = [];
  const failures: IdentifierLimitFailure[] = [];
  for (const fragment of fragments) {
    const counts = {
      emails: new Set(fragment.profile.emails ?? []).size,
      phones: new Set(fragment.profile.phones ?? []).size,
      externalIds: Object.keys(fragment.profile.externalIds ?? {}).length,
    };
    const over = (['emails', 'phones', 'externalIds'] as const).filter((kind) => {
      const limit = guards.maxPerProfile[kind];
      return limit !== undefined && counts[kind] > limit;
    });
    if (over.length === 0) {
      kept.push(fragment);
      continue;
    }
    const what = over.map((kind) => `${counts[kind]} ${kind} (maxPerProfile.${kind} is ${guards.maxPerProfile[kind]})`).join(', ');
    failures.push({
      rawId: fragment.rawId,
      source: fragment.source,
      mappingFile: fragment.mappingFile,
      code: 'too_many_identifiers',
      message: `the record alone carries more identifiers than a profile may hold: ${what}; fix the mapping or raise the limit in identity.yaml, then replay`,
    });
  }
  return { kept, failures };
}

/** What the profiles of crowded components hold, to check guards against. */
async function inventories(tx: Tx, ids: string[]): Promise<Map<string, Inventory>> {
  const out = new Map<string, Inventory>();
  for (const row of rowsOf<Pick<typeof sourceRecords.$inferSelect, 'profileId'> & { fragment: Fragment['profile'] }>(
    await tx.execute(
      sql`select profile_id as "profileId", fragment from source_records where profile_id = any(${uuidArray(ids)}) and deleted_at is null`,
    ),
  )) {
    const inv = out.get(row.profileId) ?? { emails: new Set(), phones: new Set(), externalIds: new Set(), bySystem: new Map() };
    for (const e of row.fragment.emails ?? []) inv.emails.add(e);
    for (const p of row.fragment.phones ?? []) inv.phones.add(p);
    for (const [system, id] of Object.entries(row.fragment.externalIds ?? {})) {
      inv.externalIds.add(`${system}:${id}`);
      inv.bySystem.set(system, (inv.bySystem.get(system) ?? new Set()).add(id));
    }
    out.set(row.profileId, inv);
  }
  return out;
}

/**
 * A component that would merge profiles against a decision or a guard is cut into compatible sets,
 * oldest profile first: records pinned apart by a split, two different ids of a system declared
 * unique, or more identifiers of a type than a profile may hold. Each fragment stays with its own
 * profile (or the oldest it touched); every refused merge is recorded with its reason, once.
 */
export async function enforceGuards(
  tx: Tx,
  groups: Map<string, Group>,
  touched: Set<string>[],
  seqOf: Map<string, number>,
  fragmentOf: (i: number) => Fragment | undefined,
  homeOf: (i: number) => string | undefined,
  guards: Guards,
) {
  const crowded = [...groups.entries()].filter(([, g]) => g.profiles.size > 1);
  if (crowded.length === 0) return;
  const ids = crowded.flatMap(([, g]) => [...g.profiles]);
  const pinned = new Set(
    rowsOf<{ p: string; q: string }>(
      await tx.execute(sql`
        select distinct least(a.profile_id, b.profile_id) as p, greatest(a.profile_id, b.profile_id) as q
        from link_pins lp
        join source_records a on a.id = lp.record_a
        join source_records b on b.id = lp.record_b
        where a.profile_id = any(${uuidArray(ids)}) and b.profile_id = any(${uuidArray(ids)}) and a.profile_id <> b.profile_id`),
    ).map((r) => `${r.p}|${r.q}`),
  );
  const held = await inventories(tx, ids);
  const empty: Inventory = { emails: new Set(), phones: new Set(), externalIds: new Set(), bySystem: new Map() };
  const inv = (id: string) => held.get(id) ?? empty;

  /** Why x may not join y, or undefined. */
  const apart = (x: string, y: string): string | undefined => {
    if (pinned.has(x < y ? `${x}|${y}` : `${y}|${x}`)) return 'pinned apart by a split';
    for (const system of guards.uniqueSystems) {
      const a = inv(x).bySystem.get(system);
      const b = inv(y).bySystem.get(system);
      if (a && b && [...a].some((v) => !b.has(v))) return `two different ${system} ids (declared unique)`;
    }
    return undefined;
  };
  const overLimit = (set: string[], id: string): string | undefined => {
    for (const kind of ['emails', 'phones', 'externalIds'] as const) {
      const limit = guards.maxPerProfile[kind];
      if (limit === undefined) continue;
      const union = new Set([...set, id].flatMap((p) => [...inv(p)[kind]]));
      if (union.size > limit) return `more than ${limit} ${kind} in one profile`;
    }
    return undefined;
  };

  for (const [root, group] of crowded) {
    const sets: string[][] = [];
    const reasons = new Set<string>();
    for (const id of [...group.profiles].sort((a, b) => (seqOf.get(a) ?? 0) - (seqOf.get(b) ?? 0))) {
      let home: string[] | undefined;
      for (const set of sets) {
        const why = set.map((other) => apart(id, other)).find((r) => r !== undefined) ?? overLimit(set, id);
        if (why === undefined) {
          home = set;
          break;
        }
        reasons.add(why);
      }
      if (home) home.push(id);
      else sets.push([id]);
    }
    if (sets.length === 1) continue;
    groups.delete(root);
    const parts = sets.map((set) => ({ fragments: [] as number[], profiles: new Set(set) }));
    for (const i of group.fragments) {
      // A known record stays on its own profile; a record carrying an id of a unique system joins
      // the profile holding that id; any other joins the oldest profile it touched.
      const home = homeOf(i);
      const mine = touched[i] ?? new Set<string>();
      const own = fragmentOf(i)?.profile.externalIds ?? {};
      const holdsOwnId = (id: string) =>
        guards.uniqueSystems.some(
          (system) =>
            own[system] !== undefined &&
            inv(id)
              .bySystem.get(system)
              ?.has(own[system] as string),
        );
      const part =
        (home && parts.find((p) => p.profiles.has(home))) ||
        parts.find((p) => [...p.profiles].some(holdsOwnId)) ||
        parts.find((p) => [...p.profiles].some((id) => mine.has(id))) ||
        parts[0];
      part?.fragments.push(i);
    }
    for (const [n, part] of parts.entries()) groups.set(`${root}#${n}`, part);
    const [first, ...others] = sets.map((set) => set[0] as string);
    const via = group.fragments.map(fragmentOf).filter((f) => f !== undefined);
    const details = { reasons: [...reasons], records: via.map((f) => ({ source: f.source, object: f.object, recordId: f.recordId })) };
    // A refusal of these profiles for these reasons already on record is not recorded again: a
    // links rebuild after each training scores the same records again and meets the same pin.
    await tx.execute(sql`
      insert into profile_merges (survivor_id, retired_ids, kind, details, actor)
      select ${first}, ${uuidArray(others)}, 'refused', ${JSON.stringify(details)}::jsonb, 'aurum'
      where not exists (
        select 1 from profile_merges
        where survivor_id = ${first} and kind = 'refused' and retired_ids = ${uuidArray(others)}
          and details->'reasons' = ${JSON.stringify(details.reasons)}::jsonb)`);
  }
}
