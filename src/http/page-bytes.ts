import { type SQL, sql } from 'drizzle-orm';

/**
 * The most bytes of JSON one page of a list route carries: 8 MiB. A page of 1,000 items of up to a
 * megabyte each (AURUM_MAX_RECORD_BYTES) would otherwise build a gigabyte response in memory. A
 * page stops before the item that would pass it (the first item is always sent, so paging always
 * moves on) and says `truncated: true`; its `next` cursor continues after the last item sent.
 */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;

/**
 * A running total of `size` (a SQL expression) in the page's order, to filter rows in the database
 * before any leaves it: `select …, ${runningBytes(size, order)} as running_bytes … ` then keep the
 * rows `withinPage`. The total counts the rows before this one, so the first row is 0.
 */
export const runningBytes = (size: SQL, order: SQL): SQL =>
  sql`coalesce(sum(${size}) over (order by ${order} rows between unbounded preceding and 1 preceding), 0)`;

/** Rows that start within the byte budget; with `runningBytes`. */
export const withinPage = (running: SQL, maxBytes = MAX_PAGE_BYTES): SQL => sql`${running} < ${maxBytes}`;

/**
 * Cuts `items` (already in page order) at `maxBytes` of JSON, keeping at least one. For pages whose
 * items are small enough to be fetched whole; the check after the database's own estimate.
 */
export function capPage<T>(items: readonly T[], maxBytes = MAX_PAGE_BYTES): { items: T[]; truncated: boolean } {
  let total = 0;
  for (const [i, item] of items.entries()) {
    total += Buffer.byteLength(JSON.stringify(item) ?? '') + 1;
    if (total > maxBytes && i > 0) return { items: items.slice(0, i), truncated: true };
  }
  return { items: [...items], truncated: false };
}
