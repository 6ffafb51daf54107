import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { uuidArray } from '../db/sql.ts';

/**
 * The profiles stay, marked erased (the ids others hold answer nothing). The member records go, and
 * with them (by `on delete cascade`) their keys, consent entries, memberships and pins; the merge
 * history keeps its rows, without the record ids its details held.
 */
export const resolutionEraser: Eraser = {
  name: 'resolution',
  tables: ['source_records', 'record_keys', 'consent_entries', 'memberships', 'link_pins', 'profile_merges', 'profiles'],
  async erase(tx, subject) {
    await tx.execute(sql`update profiles set erased_at = now() where id = any(${uuidArray(subject.profileIds)})`);
    await tx.execute(sql`delete from source_records where profile_id = ${subject.profileId}`);
    await tx.execute(sql`
      update profile_merges set details = '{"erased": true}'::jsonb
      where survivor_id = any(${uuidArray(subject.profileIds)}) or retired_ids && ${uuidArray(subject.profileIds)}`);
    return undefined;
  },
};
