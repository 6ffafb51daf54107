import type { MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../access/auth.ts';
import type { Role } from '../config/settings.ts';
import type { ProfileView } from '../golden/read.ts';
import { ApiError } from './errors.ts';

/**
 * Who a route is for. Every role reads the person a profile describes; ops runs the pipeline
 * (sources, mappings, quarantine, imports, syncs, destinations, identity); `records` is who sees
 * which source records make a profile and how they were linked (ops, for identity work;
 * compliance, to answer regulators); compliance answers regulators (consent, lineage, audit,
 * export, erase); admin does everything, keys included.
 */
export type Audience = 'reader' | 'ops' | 'records' | 'compliance' | 'admin';

const ROLES_FOR: Record<Audience, readonly Role[]> = {
  reader: ['reader', 'ops', 'compliance', 'admin'],
  ops: ['ops', 'admin'],
  records: ['ops', 'compliance', 'admin'],
  compliance: ['compliance', 'admin'],
  admin: ['admin'],
};

export const permits = (role: Role, audience: Audience): boolean => ROLES_FOR[audience].includes(role);

/**
 * Fields of a golden record shown only to the audience of the route that serves the same data:
 * consent to those who may call `/profiles/:id/consent`, the member record ids to those who may
 * call `/profiles/:id/matches`. Every other field is the person, for every role.
 */
const PROFILE_FIELD_AUDIENCE = { consent: 'compliance', sources: 'records' } as const satisfies Partial<
  Record<keyof ProfileView, Audience>
>;

/** A golden record as `role` may see it: the one projection every route returning profiles applies. */
export function profileFor<P extends ProfileView>(role: Role, profile: P): P | Omit<P, keyof typeof PROFILE_FIELD_AUDIENCE> {
  const hidden = Object.entries(PROFILE_FIELD_AUDIENCE).filter(([, audience]) => !permits(role, audience));
  if (hidden.length === 0) return profile;
  const shown: Record<string, unknown> = { ...(profile as Record<string, unknown>) };
  for (const [field] of hidden) delete shown[field];
  return shown as Omit<P, keyof typeof PROFILE_FIELD_AUDIENCE>;
}

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
