import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { uuidArray } from '../db/sql.ts';

/**
 * The golden records of the profiles are emptied (resolution's eraser marks the profiles erased;
 * ids others hold still resolve), one made empty where none was built yet; their lineage history goes.
 */
export const goldenEraser: Eraser = {
  name: 'golden',
  tables: ['golden_records', 'lineage_history'],
  async erase(tx, subject) {
    const ids = uuidArray(subject.profileIds);
    await tx.execute(sql`
      insert into golden_records (profile_id, updated_at) select id, now() from unnest(${ids}) as v(id)
      on conflict (profile_id) do update set golden = '{}'::jsonb, lineage = '{}'::jsonb, golden_hash = '', updated_at = now()`);
    await tx.execute(sql`delete from lineage_history where profile_id = any(${ids})`);
    return undefined;
  },
};
