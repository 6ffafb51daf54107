import type { MiddlewareHandler } from 'hono';
import type { Role } from '../config/settings.ts';
import type { AuthEnv } from './auth.ts';
import { ApiError } from './errors.ts';

/**
 * Who a route is for. Every role reads profiles; ops runs the pipeline (sources, mappings,
 * quarantine, imports, syncs, destinations, identity); compliance answers regulators (consent,
 * lineage, audit, export, erase); admin does everything, keys included.
 */
export type Audience = 'reader' | 'ops' | 'compliance' | 'admin';

const ROLES_FOR: Record<Audience, readonly Role[]> = {
  reader: ['reader', 'ops', 'compliance', 'admin'],
  ops: ['ops', 'admin'],
  compliance: ['compliance', 'admin'],
  admin: ['admin'],
};

export const permits = (role: Role, audience: Audience): boolean => ROLES_FOR[audience].includes(role);

/**
 * Route middleware stating who may call the route: `.get('/audit', allow('compliance'), handler)`.
 * It runs after authentication, so the caller is known.
 */
export function allow(audience: Audience): MiddlewareHandler<AuthEnv> {
  const roles = ROLES_FOR[audience];
  return async (c, next) => {
    const caller = c.get('caller');
    // Fail closed: a route mounted without authentication in front of it answers 401, never runs.
    if (!caller) throw new ApiError('unauthorized', 'send Authorization: Bearer <API key>');
    const { role, name } = caller;
    if (!roles.includes(role)) {
      throw new ApiError('forbidden', `key ${name} has role ${role}; this needs one of: ${roles.join(', ')}`);
    }
    await next();
  };
}
