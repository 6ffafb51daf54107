import { createHash } from 'node:crypto';
import type { Workspace } from '../config/workspace.ts';
import { ruleId } from '../resolution/probabilistic/features.ts';

export type RebuildKind = 'keys' | 'golden';
export const REBUILD_KINDS: readonly RebuildKind[] = ['keys', 'golden'];

/**
 * Bumped when the code that derives a kind changes what it makes (a key's format, a transform), so
 * data derived by the old code is derived again.
 */
const CODE_VERSION: Record<RebuildKind, number> = { keys: 1, golden: 1 };

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

/**
 * What each kind of stored data is derived from, as a hash: the record keys from identity.yaml's
 * rules (by content, so their order counts for nothing) and blocked values; golden records from the
 * sources' priorities. When the workspace's hash differs from the last rebuild's, the data is stale.
 */
export function definitionOf(kind: RebuildKind, workspace: Workspace): string {
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
};
