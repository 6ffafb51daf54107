import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiKey, Role } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { ApiError } from '../http/errors.ts';
import { findKeyByToken } from './api-keys.ts';

export interface Caller {
  name: string;
  role: Role;
}

export type AuthEnv = { Variables: { caller: Caller } };

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Authenticates `Authorization: Bearer <token>` against the bootstrap keys of `AURUM_API_KEYS` and
 * the keys stored by `aurum keys create` (by the token's hash). Which roles may call a route is
 * each route's own `allow(...)`.
 */
export function requireKey(keys: readonly ApiKey[], db: Db): MiddlewareHandler<AuthEnv> {
  // Compare fixed-length digests, so neither the token's length nor its content leaks through timing.
  const known = keys.map((k) => ({ ...k, digest: digest(k.token) }));
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new ApiError('unauthorized', 'send Authorization: Bearer <API key>');
    const given = digest(match[1]);
    let caller: Caller | undefined;
    for (const key of known) {
      if (timingSafeEqual(key.digest, given) && !caller) caller = { name: key.name, role: key.role };
    }
    caller ??= await findKeyByToken(db, match[1]);
    if (!caller) throw new ApiError('unauthorized', 'the API key is not valid, or was revoked');
    c.set('caller', caller);
    await next();
  };
}

/** Why the caller is acting, from `X-Aurum-Reason` (or a body's `reason`, which wins): kept in the audit log. */
export function reasonOf(c: Context, fromBody?: string | null): string | null {
  const reason = fromBody ?? c.req.header('x-aurum-reason') ?? null;
  return reason === null || reason.trim() === '' ? null : reason.trim().slice(0, 2000);
}
