import { sql } from 'drizzle-orm';
import { type Queryable, type RawRow, rowsOf } from '../db/database.ts';
import type { deliveries, destinations } from '../db/schema.ts';
import { uuidArray } from '../db/sql.ts';

/** A delivery as a person's export lists it: what was sent where, and how it went. */
export type ProfileDelivery = RawRow<
  typeof deliveries,
  'id' | 'destinationId' | 'profileId' | 'event' | 'status' | 'attempts' | 'createdAt' | 'deliveredAt' | 'body'
> &
  RawRow<typeof destinations, 'url'>;

/** Every delivery made about these profiles, with its destination's URL, oldest first. */
export async function deliveriesOfProfiles(db: Queryable, profileIds: readonly string[]): Promise<ProfileDelivery[]> {
  if (profileIds.length === 0) return [];
  return rowsOf<ProfileDelivery>(
    await db.execute(sql`
      select dl.id, dl.destination_id as "destinationId", d.url, dl.profile_id as "profileId", dl.event, dl.status, dl.attempts,
        dl.created_at as "createdAt", dl.delivered_at as "deliveredAt", dl.body
      from deliveries dl join destinations d on d.id = dl.destination_id
      where dl.profile_id = any(${uuidArray(profileIds)})
      order by dl.created_at, dl.id`),
  );
}
