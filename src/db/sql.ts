import { createHash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';

/** One array parameter (drizzle would otherwise expand a JS array into a list of parameters). */
export const textArray = (values: readonly string[]): SQL => sql`${sql.param([...values])}::text[]`;
export const uuidArray = (values: readonly string[]): SQL => sql`${sql.param([...values])}::uuid[]`;
/** Bound as text: postgres.js mis-encodes a timestamptz[] parameter holding nulls. */
export const timestampArray = (values: readonly (string | null)[]): SQL => sql`${sql.param([...values])}::text[]::timestamptz[]`;
export const bigintArray = (values: readonly (number | string)[]): SQL => sql`${sql.param(values.map(String))}::bigint[]`;

/** A stable 64-bit lock id for a string, as a decimal string (bigint-safe). */
export function lockId(key: string): bigint {
  return createHash('sha256').update(key).digest().readBigInt64BE(0);
}

/**
 * Takes transaction-scoped advisory locks on `keys`, always in ascending lock-id order so two
 * transactions never wait on each other in a cycle.
 */
export function lockKeys(keys: Iterable<string>): SQL {
  const ids = [...new Set([...keys].map(lockId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sql`select pg_advisory_xact_lock(id) from unnest(${bigintArray(ids.map(String))}) as id`;
}

/** Any fixed 64-bit number: held by every transaction that links records or decides on profiles. */
const RESOLUTION_LOCK = 7_220_115_002;

/**
 * Excludes every linking transaction, in every process of a hub: taken by what changes profiles
 * wholesale (a decision through the API, an erasure, a rebuild of the stored keys), so linking
 * never sees such a change half-way.
 */
export const lockResolution = (): SQL => sql`select pg_advisory_xact_lock(${RESOLUTION_LOCK})`;

/**
 * Taken by linking transactions: they run side by side, and each waits only for what
 * `lockResolution` holds. What two linking transactions share is serialised by `lockKeys` on the
 * keys of their records and on the profiles they change.
 */
export const shareResolution = (): SQL => sql`select pg_advisory_xact_lock_shared(${RESOLUTION_LOCK})`;

/** The codes of an error and of the causes it wraps (drizzle wraps the driver's error). */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    if (typeof e.code === 'string') codes.push(e.code);
  }
  return codes;
}

/** Errors PostgreSQL asks us to retry: serialization failure and deadlock. */
export function isRetryable(error: unknown): boolean {
  return codesOf(error).some((code) => code === '40001' || code === '40P01');
}

/**
 * Errors of the environment, not of the data: the connection, the server shutting down or out of
 * resources. Work that failed so is retried as it was; any other failure is the data's, and is
 * isolated to the record at fault.
 */
export function isTransient(error: unknown): boolean {
  // 0A000/26000: a statement this connection prepared before another process migrated the
  // schema; postgres.js drops it, and the next attempt prepares it again.
  return (
    isRetryable(error) ||
    codesOf(error).some(
      (code) =>
        /^(08|53|57|58)/.test(code) ||
        code === '0A000' ||
        code === '26000' ||
        /^(CONNECT|CONNECTION_|ECONN|EPIPE|ETIMEDOUT|EAI_AGAIN)/.test(code),
    )
  );
}

/** Runs a transaction again when PostgreSQL aborted it to break a deadlock or a serialization conflict. */
export async function withRetry<T>(run: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}

/** Whether a string is a uuid: a route checks an id before it reaches a uuid column, which would throw. */
export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
