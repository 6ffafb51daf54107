/**
 * Writes the ground truth of a FEBRL file as source,record_id,entity_id for `aurum evaluate`:
 * rec-N-org and rec-N-dup-K are person N. Used for evaluation only, never for training.
 *   node scripts/febrl-truth.ts ../shared/datasets/febrl3.csv febrl > truth.csv
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';

const [file, source = 'febrl'] = process.argv.slice(2);
if (!file) throw new Error('usage: node scripts/febrl-truth.ts FILE [SOURCE]');
process.stdout.write(stringify([['source', 'record_id', 'entity_id']]));
for await (const row of createReadStream(file).pipe(parse({ columns: true, trim: true }))) {
  const id = (row as { rec_id: string }).rec_id;
  process.stdout.write(stringify([[source, id, /^rec-(\d+)-/.exec(id)?.[1] ?? id]]));
}
