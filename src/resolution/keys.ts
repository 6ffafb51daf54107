import type { Profile } from '../mapping/profile.ts';

/**
 * A fragment's identifier keys: normalised emails and E.164 phones. They never link outright (the
 * model weighs them); they answer `GET /profiles?email=…|phone=…` and erasure's lookups (external
 * ids are the engine's `linkKeys`).
 */
export function matchKeys(profile: Pick<Profile, 'emails' | 'phones'>, blocked: ReadonlySet<string> = new Set()): string[] {
  const keys: string[] = [];
  // Placeholders (test@example.com, 0000000000) identify no one: they never link.
  const usable = (value: string) => !blocked.has(value.toLowerCase()) && !blocked.has(value.replace(/^\+/, ''));
  for (const email of profile.emails ?? []) if (usable(email)) keys.push(`email:${email}`);
  for (const phone of profile.phones ?? []) if (usable(phone)) keys.push(`phone:${phone}`);
  return keys;
}

/** A record's own identity: updates of one record always land on one profile. */
export const recordIdentity = (f: { source: string; object: string; recordId: string }): string =>
  `rec:${f.source}/${f.object}/${f.recordId}`;
