import type { PgBoss } from 'pg-boss';
import type { Tx } from '../db/database.ts';
import { deliveryEraser } from '../delivery/eraser.ts';
import { goldenEraser } from '../golden/eraser.ts';
import { intakeEraser } from '../intake/eraser.ts';
import { quarantineEraser } from '../mapping/eraser.ts';
import { resolutionEraser } from '../resolution/eraser.ts';
import type { Eraser, ErasureCounts, ErasureSubject } from './eraser.ts';

/**
 * Every module's eraser, run in this order (the pipeline's: raw store, mapping, resolution, golden
 * record, delivery). A module that adds a table holding a subject adds it to its eraser's
 * `tables`, or a new eraser here; `test/erasers.test.ts` fails until it does.
 */
export const ERASERS: readonly Eraser[] = [intakeEraser, quarantineEraser, resolutionEraser, goldenEraser, deliveryEraser];

/** Every table an erasure empties rows of or deletes rows from, in the erasers' order. */
export const erasedTables = (erasers: readonly Eraser[] = ERASERS): string[] => [...new Set(erasers.flatMap((e) => e.tables))];

/** Runs every eraser in `tx`, one after the other, and sums what they report. */
export async function runErasers(
  tx: Tx,
  subject: ErasureSubject,
  boss: PgBoss,
  erasers: readonly Eraser[] = ERASERS,
): Promise<ErasureCounts> {
  const counts: ErasureCounts = { deliveriesWithdrawn: 0 };
  for (const eraser of erasers) {
    const reported = await eraser.erase(tx, subject, boss);
    counts.deliveriesWithdrawn += reported?.deliveriesWithdrawn ?? 0;
  }
  return counts;
}
