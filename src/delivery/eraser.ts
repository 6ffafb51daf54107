import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { type RawRow, rowsOf } from '../db/database.ts';
import type { deliveries } from '../db/schema.ts';
import { textArray, uuidArray } from '../db/sql.ts';
import { deleteQueued, findQueued } from '../queue/queued.ts';

/**
 * Deliveries not yet sent are withdrawn with their jobs; every body keeps only the event and the
 * id; what each destination was last sent of the profile is forgotten. Its accounts' member events
 * that name it are treated so too, keeping the account's id and its own: `profile.erased` tells
 * the destinations to drop the membership.
 */
export const deliveryEraser: Eraser = {
  name: 'delivery',
  tables: ['deliveries', 'destination_states', 'pgboss.job'],
  async erase(tx, subject, boss) {
    const ids = uuidArray(subject.profileIds);
    // Through the index on profile_id: an account's deliveries, then those of its members naming the person.
    const naming = sql`profile_id = any(${uuidArray(subject.accountIds)}) and event like 'account.member%'
      and body::jsonb #>> '{member,profileId}' = any(${textArray(subject.profileIds)})`;
    const withdrawn = rowsOf<RawRow<typeof deliveries, 'id'>>(
      await tx.execute(sql`
        update deliveries set status = 'withdrawn', last_error = 'the profile was erased', updated_at = now()
        where (profile_id = any(${ids}) or (${naming})) and status in ('pending', 'sending', 'retrying') returning id`),
    );
    await tx.execute(sql`
      update deliveries set body = json_build_object('event', event, 'id', profile_id, 'erased', true)::text
      where profile_id = any(${ids})`);
    await tx.execute(sql`
      update deliveries set body = json_build_object('event', event, 'account', json_build_object('id', profile_id),
        'member', json_build_object('profileId', body::jsonb #>> '{member,profileId}'), 'erased', true)::text
      where ${naming}`);
    for (const { id } of withdrawn) {
      const jobs = await findQueued(boss, tx, 'deliver', { deliveryId: id });
      await deleteQueued(
        boss,
        tx,
        'deliver',
        jobs.map((j) => j.id),
      );
    }
    await tx.execute(sql`delete from destination_states where profile_id = any(${ids})`);
    return { deliveriesWithdrawn: withdrawn.length };
  },
};
