import { createHash } from 'node:crypto';
import { ruleId } from '../resolution/probabilistic/features.ts';
import type { Workspace } from '../workspace/workspace.ts';

export type RebuildKind = 'keys' | 'golden' | 'mappings' | 'links';
export const REBUILD_KINDS: readonly RebuildKind[] = ['keys', 'golden', 'mappings', 'links'];

/**
 * Bumped when the code that derives a kind changes what it makes (a key's format, a transform), so
 * data derived by the old code is derived again. A mappings rebuild picks records by their mapping's
 * hash, not by this: bumping `mappings` makes every hub walk its records once more (for a change to
 * what the rebuild picks or how it re-maps), but re-maps only records whose mapping changed.
 */
// keys 2: names are transliterated, split from full names and stripped of titles and suffixes.
const CODE_VERSION: Record<RebuildKind, number> = { keys: 2, golden: 1, mappings: 1, links: 1 };

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

/**
 * What each kind of stored data is derived from, as a hash: the record keys from identity.yaml's
 * rules (by content, so their order counts for nothing) and blocked values; golden records from the
 * sources' priorities; records' fragments from the mappings' texts. When the workspace's hash
 * differs from the last rebuild's, the data is stale.
 */
export function definitionOf(
  kind: RebuildKind,
  workspace: Workspace,
  /** The persons' model in force (its id), for `links`: records are scored again with each new one. */
  modelId: number | null = null,
): string {
  if (kind === 'keys') {
    const { blocking, deterministic, blockedValues, account } = workspace.identity;
    return hash({
      v: CODE_VERSION.keys,
      blocking: blocking.map(ruleId).sort(),
      deterministic: deterministic.map(ruleId).sort(),
      blockedValues: blockedValues.map((v) => v.toLowerCase()).sort(),
      account: { identifiers: [...account.identifiers].sort(), blocking: account.blocking.map(ruleId).sort() },
    });
  }
  if (kind === 'links') {
    // Links are scored again with each new model, and when what identity.yaml compares or how it
    // weighs changes. A model trained while a walk runs makes that walk stale: the next one follows
    // it, so every record is scored with the model in force in the end.
    const { comparisons, cannotLink, threshold, thresholdWeight, prior } = workspace.identity;
    return hash({
      v: CODE_VERSION.links,
      comparisons,
      cannotLink,
      threshold,
      thresholdWeight: thresholdWeight ?? null,
      prior,
      model: modelId,
    });
  }
  if (kind === 'mappings') {
    // A mapping's hash is of its text (a default mapping's also of its source), so a file renamed
    // or moved changes nothing, and one edited, added or removed does.
    return hash({ v: CODE_VERSION.mappings, mappings: workspace.mappings.map((m) => m.hash).sort() });
  }
  // A source at the default priority ranks as an absent one: adding it changes no golden record.
  const priorities = [...workspace.sources.values()]
    .filter((s) => s.priority !== 0)
    .map((s) => `${s.name}=${s.priority}`)
    .sort();
  return hash({ v: CODE_VERSION.golden, priorities });
}

/** Why a kind is rebuilt, in words for `GET /rebuilds`. */
export const STALE_REASON: Record<RebuildKind, string> = {
  keys: "identity.yaml's blocking or deterministic rules (or its accounts' identifiers or blocking), or its blocked values, changed",
  golden: "a source's priority changed",
  mappings: 'a mapping was edited, added or removed',
  links:
    "a model was trained since the records were last scored, or identity.yaml's comparisons, cannotLink rules, threshold or prior changed",
};
