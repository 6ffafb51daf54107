import type { Eraser } from '../compliance/eraser.ts';
import { emptyRawRecords } from './store.ts';

/** Raw payloads are emptied, not deleted: the row stays, so ids and counts still add up. */
export const intakeEraser: Eraser = {
  name: 'intake',
  tables: ['raw_records'],
  async erase(tx, subject) {
    await emptyRawRecords(tx, subject.rawIds);
    return undefined;
  },
};
