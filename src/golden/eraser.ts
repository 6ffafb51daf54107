import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { uuidArray } from '../db/sql.ts';

/** The profiles stay, emptied and marked erased (ids others hold still resolve); their lineage history goes. */
export const goldenEraser: Eraser = {
  name: 'golden',
  tables: ['profiles', 'lineage_history'],
  async erase(tx, subject) {
    const ids = uuidArray(subject.profileIds);
    await tx.execute(sql`
      update profiles set golden = '{}'::jsonb, lineage = '{}'::jsonb, golden_hash = '', erased_at = now(), updated_at = now()
      where id = any(${ids})`);
    await tx.execute(sql`delete from lineage_history where profile_id = any(${ids})`);
    return undefined;
  },
};
