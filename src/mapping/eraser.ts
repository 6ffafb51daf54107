import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { bigintArray } from '../db/sql.ts';

/** Quarantine messages may quote the values that failed: they are replaced, and the entry resolved. */
export const quarantineEraser: Eraser = {
  name: 'mapping',
  tables: ['quarantine'],
  async erase(tx, subject) {
    await tx.execute(sql`
      update quarantine set message = 'erased', status = 'resolved', resolved_at = coalesce(resolved_at, now())
      where raw_id = any(${bigintArray(subject.rawIds)})`);
    return undefined;
  },
};
