import { type SQL, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { isUuid } from '../db/sql.ts';
import { ApiError } from './errors.ts';
import { cursorQuery, encodeCursor } from './validate.ts';

/**
 * Keyset pages of lists ordered `at desc, id` (id a uuid): the cursor holds the last row's time in
 * whole microseconds, as the database keeps it; a JavaScript Date keeps milliseconds, and a cursor
 * built from one would skip or repeat the rows of the same millisecond.
 */
export interface TimePosition {
  micros: number;
  id: string;
}

/** The column's time in microseconds since the epoch, exact; select it beside the row for its cursor. */
export const microsOf = (at: SQL): SQL => sql`(extract(epoch from ${at}) * 1000000)::bigint`;

/** Rows after `position` in `order by at desc, id`; empty without one. */
export function afterTime(at: SQL, id: SQL, position: TimePosition | undefined): SQL {
  if (!position) return sql``;
  const time = sql`(timestamptz 'epoch' + ${position.micros}::bigint * interval '1 microsecond')`;
  return sql`and (${at} < ${time} or (${at} = ${time} and ${id} > ${position.id}::uuid))`;
}

/** `?cursor=` of such a list, checked. */
export function timeCursor(c: Context): TimePosition | undefined {
  const position = cursorQuery(c, ['number', 'string']);
  if (!position) return undefined;
  const [micros, id] = position as [number, string];
  if (!isUuid(id)) throw new ApiError('invalid_request', 'cursor must be the `next` of a previous page');
  return { micros, id };
}

/**
 * A page from rows fetched one past `limit`: the rows to send and the `next` cursor after the last,
 * or null when nothing follows.
 */
export function timePage<R extends { id: string; cursor_micros: string | number }>(rows: readonly R[], limit: number) {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return { rows: shown, next: rows.length > limit && last ? encodeCursor([Number(last.cursor_micros), last.id]) : null };
}

/** The same for lists ordered `id desc` (a bigint id). */
export function idPage<R extends { id: string | number }>(rows: readonly R[], limit: number) {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return { rows: shown, next: rows.length > limit && last ? encodeCursor([Number(last.id)]) : null };
}

/** `?cursor=` of an `id desc` list: the id to continue below. */
export function idCursor(c: Context): number | undefined {
  const position = cursorQuery(c, ['number']);
  return position ? Number(position[0]) : undefined;
}
