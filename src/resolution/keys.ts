import type { Profile } from '../mapping/profile.ts';

/**
 * The deterministic match keys of a fragment: a normalised email, an E.164 phone, or an external
 * system's id. Two fragments that share one belong to the same person.
 */
export function matchKeys(profile: Profile): string[] {
  const keys: string[] = [];
  for (const email of profile.emails ?? []) keys.push(`email:${email}`);
  for (const phone of profile.phones ?? []) keys.push(`phone:${phone}`);
  for (const [system, id] of Object.entries(profile.externalIds ?? {})) keys.push(`ext:${system}:${id}`);
  return keys;
}

/** A record's own identity: updates of one record always land on one profile. */
export const recordIdentity = (f: { source: string; object: string; recordId: string }): string =>
  `rec:${f.source}/${f.object}/${f.recordId}`;
