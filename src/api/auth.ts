import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ApiKey, Role } from '../config/settings.ts';
import { ApiError } from './errors.ts';

export interface Caller {
  name: string;
  role: Role;
}

export type AuthEnv = { Variables: { caller: Caller } };

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Who may call a route. Issue 2's contract: any valid API key may call every authenticated route;
 * `roles` states the intended audience and becomes enforced with the role rules.
 */
export function requireKey(keys: readonly ApiKey[]): MiddlewareHandler<AuthEnv> {
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
    if (!caller) throw new ApiError('unauthorized', 'the API key is not valid');
    c.set('caller', caller);
    await next();
  };
}
