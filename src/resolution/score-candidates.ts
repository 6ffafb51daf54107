import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/database.ts';
import type { sourceRecords } from '../db/schema.ts';
import { textArray } from '../db/sql.ts';
import type { Fragment } from '../mapping/apply.ts';
import type { Profile } from '../mapping/profile.ts';
import { recordIdentity } from './keys.ts';
import type { Engine, Model, Score } from './probabilistic/engine.ts';

/** Why a record joined its profile, as `GET /profiles/:id/matches` shows it. */
export type LinkExplanation =
  | { rule: string; with: RecordRef }
  | { rule: 'probabilistic'; with: RecordRef; weight: number; probability: number; levels: Record<string, string> }
  | { rule: 'first record' };

export interface RecordRef {
  source: string;
  object: string;
  recordId: string;
}

/** A probabilistic link from fragment `from` to a stored record's profile, or to another fragment of the batch. */
export interface ScoredLink {
  from: number;
  toProfile?: string;
  /** The stored record's features, when the link is to a profile (for `cannotLink` checks across the batch). */
  toFeatures?: string[][];
  toFragment?: number;
  explanation: Extract<LinkExplanation, { rule: 'probabilistic' }>;
}

export interface Scored {
  links: ScoredLink[];
  /** Fragments and the profiles holding a record each cannot link with: `${fragment}|${profileId}`. */
  vetoed: Set<string>;
  /** Each fragment's features, as compared. */
  features: string[][][];
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * Stored records' features by their fragment's text, per engine. A stored record is a candidate
 * again and again as records sharing its keys arrive; parsing its fragment and describing it each
 * time was a sixth of live linking's CPU. Keyed by the content itself, so a record changed, erased
 * or mapped again is never scored from a stale copy. Bounded: cleared when full.
 */
const storedFeatureCache = new WeakMap<Engine, Map<string, string[][]>>();
const STORED_FEATURES_CACHED = 20_000;

function featuresOfFragment(engine: Engine, fragment: string): string[][] {
  let cache = storedFeatureCache.get(engine);
  if (!cache) {
    cache = new Map();
    storedFeatureCache.set(engine, cache);
  }
  let features = cache.get(fragment);
  if (!features) {
    features = engine.features(JSON.parse(fragment) as Profile);
    if (cache.size >= STORED_FEATURES_CACHED) cache.clear();
    cache.set(fragment, features);
  }
  return features;
}

/**
 * Blocks each fragment against the stored records through the blocking keys indexed in
 * `record_keys`, and against the batch's other fragments; scores every candidate with the model and
 * returns the pairs that reach the threshold. One query for the whole batch.
 */
export async function scoreCandidates(
  tx: Tx,
  engine: Engine,
  model: Model,
  fragments: readonly Fragment[],
  blockingKeys: readonly string[][],
  /** Each fragment's own profile, when it is a stored record's new version (or one scored again). */
  ownProfiles: readonly (string | undefined)[] = [],
): Promise<Scored> {
  const allKeys = [...new Set(blockingKeys.flat())];
  if (allKeys.length === 0) return { links: [], vetoed: new Set(), features: fragments.map((f) => engine.features(f.profile)) };
  // A key held by more than maxBlockSize records identifies no one (as in batch blocking).
  const stored = rowsOf<
    Pick<typeof sourceRecords.$inferSelect, 'source' | 'object' | 'recordId' | 'profileId'> & { fragment: string; keys: string[] }
  >(
    await tx.execute(sql`
      select sr.source, sr.object, sr.record_id as "recordId", sr.profile_id as "profileId", sr.fragment::text as fragment,
        array_agg(k.key) as keys
      from (
        select key, record_pk, count(*) over (partition by key) as n
        from record_keys where key = any(${textArray(allKeys)})
      ) k join source_records sr on sr.id = k.record_pk
      where k.n <= ${engine.config.maxBlockSize}
      group by sr.id`),
  );

  const featuresOf = fragments.map((f) => engine.features(f.profile));
  const byKey = new Map<string, { stored: number[]; batch: number[] }>();
  const entry = (key: string) => {
    let e = byKey.get(key);
    if (!e) {
      e = { stored: [], batch: [] };
      byKey.set(key, e);
    }
    return e;
  };
  stored.forEach((row, s) => {
    for (const key of row.keys) entry(key).stored.push(s);
  });
  blockingKeys.forEach((keys, i) => {
    for (const key of keys) entry(key).batch.push(i);
  });

  const storedFeatures = new Map<number, string[][]>();
  const featuresOfStored = (s: number) => {
    let f = storedFeatures.get(s);
    if (!f) {
      f = featuresOfFragment(engine, (stored[s] as (typeof stored)[number]).fragment);
      storedFeatures.set(s, f);
    }
    return f;
  };
  const identities = fragments.map(recordIdentity);
  // Profiles holding a record a fragment cannot link with (`cannotLink`): `${fragment}|${profileId}`.
  const vetoed = new Set<string>();
  // Per fragment, the stored records compared with it, by their profile.
  const compared = fragments.map(() => new Map<string, number[]>());
  const explain = (
    a: string[][],
    b: string[][],
    other: RecordRef,
    score: Score = engine.score(model, a, b),
  ): Extract<LinkExplanation, { rule: 'probabilistic' }> | undefined => {
    if (score.cannotLink !== undefined) return undefined;
    if (!engine.links(score.weight)) return undefined;
    return {
      rule: 'probabilistic',
      with: other,
      weight: round(score.weight, 3),
      probability: round(score.probability, 6),
      levels: engine.explain(score.levels, 0),
    };
  };

  const links: ScoredLink[] = [];
  // Per entry of `links` to a stored record, that record's index (for the bridge check below).
  const linkedStored: number[] = [];
  const seen = new Set<string>();
  for (const { stored: records, batch } of byKey.values()) {
    for (const i of batch) {
      for (const s of records) {
        const row = stored[s] as (typeof stored)[number];
        const identity = recordIdentity(row);
        // A record is not its own candidate: an update is compared with the others, not its old self.
        if (identity === identities[i] || seen.has(`${i}|s${s}`)) continue;
        seen.add(`${i}|s${s}`);
        const byProfile = compared[i] as Map<string, number[]>;
        const ofProfile = byProfile.get(row.profileId);
        if (ofProfile) ofProfile.push(s);
        else byProfile.set(row.profileId, [s]);
        const score = engine.score(model, featuresOf[i] as string[][], featuresOfStored(s));
        if (score.cannotLink !== undefined) {
          vetoed.add(`${i}|${row.profileId}`);
          continue;
        }
        const explanation = explain(
          featuresOf[i] as string[][],
          featuresOfStored(s),
          { source: row.source, object: row.object, recordId: row.recordId },
          score,
        );
        if (explanation) {
          links.push({ from: i, toProfile: row.profileId, toFeatures: featuresOfStored(s), explanation });
          linkedStored.push(s);
        }
      }
      // Batch if the block stays within the size limit (stored records and arrivals together).
      if (batch.length + records.length > engine.config.maxBlockSize) continue;
      for (const j of batch) {
        if (j <= i || seen.has(`${i}|f${j}`)) continue;
        seen.add(`${i}|f${j}`);
        const other = fragments[j] as Fragment;
        const explanation = explain(featuresOf[i] as string[][], featuresOf[j] as string[][], {
          source: other.source,
          object: other.object,
          recordId: other.recordId,
        });
        if (explanation) links.push({ from: i, toFragment: j, explanation });
      }
    }
  }
  // A profile holding a record the fragment cannot link with is no match, whatever else it holds
  // (a thin record with the household's email must not carry Jane to John).
  const direct: ScoredLink[] = [];
  const storedOf: number[] = [];
  let k = 0;
  for (const link of links) {
    if (link.toProfile === undefined) direct.push(link);
    else {
      if (!vetoed.has(`${link.from}|${link.toProfile}`)) {
        direct.push(link);
        storedOf.push(linkedStored[k] as number);
      }
      k++;
    }
  }
  const kept = withoutForbiddenBridges(engine, model, direct, storedOf, featuresOfStored, (i) => {
    const own = ownProfiles[i];
    return own === undefined ? undefined : { profile: own, records: compared[i]?.get(own) ?? [] };
  });
  return { links: kept, vetoed, features: featuresOf };
}

/**
 * A record that matches two profiles merges them, unless a record of one and a record of the other
 * cannot link (identity.yaml `cannotLink`): a thin record (an email and a surname) that matches both
 * John and Jane of one household must not make them one. It then joins only the profile it matches
 * best, and the others it matched stay as they are.
 */
function withoutForbiddenBridges(
  engine: Engine,
  model: Model,
  links: ScoredLink[],
  storedOf: readonly number[],
  featuresOfStored: (s: number) => string[][],
  ownOf: (i: number) => { profile: string; records: number[] } | undefined,
): ScoredLink[] {
  const toStored = links.filter((l) => l.toProfile !== undefined);
  const byFragment = new Map<number, { profile: string; weight: number; records: number[] }[]>();
  toStored.forEach((link, k) => {
    const targets = byFragment.get(link.from) ?? [];
    let target = targets.find((t) => t.profile === link.toProfile);
    if (!target) {
      target = { profile: link.toProfile as string, weight: link.explanation.weight, records: [] };
      targets.push(target);
    }
    target.weight = Math.max(target.weight, link.explanation.weight);
    target.records.push(storedOf[k] as number);
    byFragment.set(link.from, targets);
  });
  const dropped = new Set<string>();
  for (const [from, all] of byFragment) {
    // A fragment stays on its own profile: the profiles it matches join that one, or none.
    const own = ownOf(from);
    const targets = all.filter((t) => t.profile !== own?.profile).sort((a, b) => b.weight - a.weight);
    if (targets.length + (own ? 1 : 0) < 2) continue;
    const kept: number[] = own ? [...own.records] : [...(targets.shift()?.records ?? [])];
    for (const target of targets) {
      const conflicts = target.records.some((r) =>
        kept.some((k) => engine.score(model, featuresOfStored(r), featuresOfStored(k)).cannotLink !== undefined),
      );
      if (conflicts) dropped.add(`${from}|${target.profile}`);
      else kept.push(...target.records);
    }
  }
  return dropped.size === 0 ? links : links.filter((l) => !(l.toProfile !== undefined && dropped.has(`${l.from}|${l.toProfile}`)));
}
