import { sql } from 'drizzle-orm';
import type { Eraser } from '../compliance/eraser.ts';
import { bigintArray } from '../db/sql.ts';

/** Raw payloads are emptied, not deleted: the row stays, so ids and counts still add up. */
export const intakeEraser: Eraser = {
  name: 'intake',
  tables: ['raw_records'],
  async erase(tx, subject) {
    await tx.execute(
      sql`update raw_records set payload = '{}'::jsonb, original_body = null, erased_at = now() where id = any(${bigintArray(subject.rawIds)})`,
    );
    return undefined;
  },
};
