import type { PgBoss } from 'pg-boss';
import type { Tx } from '../db/database.ts';

/**
 * Who an erasure removes, as `eraseProfile` found them under the resolution lock, before any
 * eraser runs: every eraser sees the same subject, whatever the erasers before it deleted.
 */
export interface ErasureSubject {
  /** The profile erased (a merged-away id asked for resolves to its survivor). */
  profileId: string;
  /** `profileId` and the profiles merged into it earlier, erased with it. */
  profileIds: readonly string[];
  /** The accounts its records name or named: their member events name it. */
  accountIds: readonly string[];
  /** Its member records (`source_records.id`). */
  recordPks: readonly number[];
  /** Every raw record holding the person: the versions of its records, and failed ones holding its identifiers. */
  rawIds: readonly number[];
  /** The identifier keys (`email:…`, `phone:…`, `ext:…`, `rec:…`) now tombstoned. */
  identifiers: readonly string[];
}

/** What an eraser reports back, summed into the erasure's result. */
export interface ErasureCounts {
  deliveriesWithdrawn: number;
}

/**
 * How a module that stores personal data removes a subject from its tables. It runs inside the
 * erasure's transaction, so it either happens with the rest or not at all. Registered in
 * `compliance/erasers.ts`; a test fails when a table with a subject column is in no eraser's `tables`.
 *
 * @example
 * export const notesEraser: Eraser = {
 *   name: 'notes',
 *   tables: ['notes'],
 *   async erase(tx, subject) {
 *     await tx.execute(sql`delete from notes where profile_id = any(${uuidArray(subject.profileIds)})`);
 *   },
 * };
 */
export interface Eraser {
  /** The owning module, for logs and the registry test. */
  name: string;
  /**
   * Every table it empties rows of or deletes rows from, by cascade too (qualified with its schema
   * when not the hub's own: `pgboss.job`). Vacuumed after the erasure commits.
   */
  tables: readonly string[];
  /** `boss` is for jobs the module queued about the subject: pg-boss's tables are written through its API. */
  erase(tx: Tx, subject: ErasureSubject, boss: PgBoss): Promise<Partial<ErasureCounts> | undefined>;
}
