import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { RawRow } from '../db/database.ts';
import type { destinations } from '../db/schema.ts';

// What fan-out plans, for persons (`fanout.ts`) and accounts (`fanout-accounts.ts`) alike.

export type Pair = { destinationId: string; profileId: string };

/** One delivery to write. */
export interface Planned extends Pair {
  event: string;
  body: string;
  /** When the profile changed: delivery latency is measured from here. */
  changedAt: string | null;
  /**
   * It carries the record, or withdraws it: an older snapshot of the same id not yet sent is
   * superseded by it (`supersede` in fanout.ts). Member events carry no record and supersede nothing.
   */
  supersedes: boolean;
}

/** What one fan-out writes: the deliveries, what each destination now holds, and the ids merges retired. */
export interface Plan {
  planned: Planned[];
  states: (Pair & { status: 'sent' | 'suppressed'; hash: string })[];
  /** Destination states to forget: an erased profile, an id merged away. */
  dropped: Pair[];
  /** Ids merged away: nothing of theirs not yet sent may go after their merge. */
  retired: Pair[];
}

export type Destination = RawRow<typeof destinations, 'id' | 'purposes' | 'fields' | 'events' | 'entities' | 'circuitOpenUntil'>;

/** The golden record as a destination may see it: its allowlisted fields, with the id and version. */
export function minimise<T extends Record<string, unknown>>(profile: T, fields: readonly string[] | null): Record<string, unknown> {
  if (!fields) return profile;
  const kept: Record<string, unknown> = { id: profile['id'], version: profile['version'], updatedAt: profile['updatedAt'] };
  for (const field of fields) if (field in profile) kept[field] = profile[field];
  return kept;
}

/** What a destination with an allowlist holds of a profile: the allowlisted fields' values, in a stable form. */
export function allowlistHash(profile: Record<string, unknown>, fields: readonly string[]): string {
  const held = Object.fromEntries([...fields].sort().map((field) => [field, profile[field] ?? null]));
  return createHash('sha256')
    .update(stringify(held) ?? '')
    .digest('hex');
}
