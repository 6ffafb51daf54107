import type { Eraser } from '../compliance/eraser.ts';
import { closeErasedEntries } from './quarantine-store.ts';

/** Quarantine messages may quote the values that failed: they are replaced, and the entry resolved. */
export const quarantineEraser: Eraser = {
  name: 'mapping',
  tables: ['quarantine'],
  async erase(tx, subject) {
    await closeErasedEntries(tx, subject.rawIds);
    return undefined;
  },
};
