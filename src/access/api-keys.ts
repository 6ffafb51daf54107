import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Role } from '../config/settings.ts';
import type { Db, Tx } from '../db/database.ts';
import { rowsOf } from '../db/database.ts';
import { apiKeys } from '../db/schema.ts';
import { audit } from './audit.ts';

export interface StoredKey {
  id: number;
  name: string;
  role: Role;
  tokenPrefix: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

/** Why a key change cannot be made; the API answers 400, 404 or 409. */
export class KeyError extends Error {
  readonly code: 'key_not_found' | 'key_name_taken' | 'key_name_reserved' | 'invalid_request';
  constructor(code: KeyError['code'], message: string) {
    super(message);
    this.name = 'KeyError';
    this.code = code;
  }
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** `aurum_` and 32 random bytes: recognisable in a leaked file, unguessable. */
const newToken = () => `aurum_${randomBytes(32).toString('base64url')}`;

/** A key's columns but its token's hash. */
const KEY = {
  id: apiKeys.id,
  name: apiKeys.name,
  role: apiKeys.role,
  tokenPrefix: apiKeys.tokenPrefix,
  createdBy: apiKeys.createdBy,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
  revokedBy: apiKeys.revokedBy,
};
const view = (r: Omit<typeof apiKeys.$inferSelect, 'tokenHash'>): StoredKey => ({
  id: r.id,
  name: r.name,
  // The check constraint holds it to the roles.
  role: r.role as Role,
  tokenPrefix: r.tokenPrefix,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  revokedAt: r.revokedAt ? r.revokedAt.toISOString() : null,
  revokedBy: r.revokedBy,
});

/**
 * The names the hub acts under in the audit log: itself (`aurum`), the CLI (`cli`, `cli:<who>`),
 * the bootstrap keys of AURUM_API_KEYS (`env:<role>`) and the sources that sent consent
 * (`source:<name>`). A key so named would sign its acts as one of them.
 */
const RESERVED_NAME = /^(aurum|cli)$|^(env|source|cli):/i;
const KEY_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Why a key may not bear `name`, or undefined: a reserved actor name, or characters outside the set. */
export function keyNameProblem(name: string): KeyError | undefined {
  if (RESERVED_NAME.test(name)) {
    return new KeyError('key_name_reserved', `${name} is reserved for the hub's own acts in the audit log (aurum, cli, env:*, source:*)`);
  }
  if (!KEY_NAME.test(name)) return new KeyError('invalid_request', 'a key name is 1-64 letters, digits, or _ . @ -');
  return undefined;
}

/** Makes a key and audits it, in one transaction. The token is returned here and never again. */
export async function createKey(db: Db, input: { name: string; role: Role; actor: string; reason?: string | null }) {
  const problem = keyNameProblem(input.name);
  if (problem) throw problem;
  const token = newToken();
  return db.transaction(async (tx) => {
    const taken = rowsOf(await tx.execute(sql`select 1 from api_keys where name = ${input.name} and revoked_at is null`));
    if (taken.length > 0) throw new KeyError('key_name_taken', `a live key is already named ${input.name}: revoke it first`);
    const [row] = await tx
      .insert(apiKeys)
      .values({ name: input.name, role: input.role, tokenHash: hashToken(token), tokenPrefix: token.slice(0, 12), createdBy: input.actor })
      .returning(KEY);
    const key = view(row as NonNullable<typeof row>);
    await audit(tx, {
      actor: input.actor,
      action: 'key.created',
      reason: input.reason ?? null,
      details: { key: key.name, role: key.role },
    });
    return { key, token };
  });
}

export async function listKeys(db: Db | Tx, options: { includeRevoked?: boolean } = {}): Promise<StoredKey[]> {
  const rows = await db
    .select(KEY)
    .from(apiKeys)
    .where(options.includeRevoked ? undefined : isNull(apiKeys.revokedAt))
    .orderBy(apiKeys.id);
  return rows.map(view);
}

/** Revokes the live key of that name; its token stops working at the next request. */
export async function revokeKey(db: Db, input: { name: string; actor: string; reason?: string | null }): Promise<StoredKey> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()`, revokedBy: input.actor })
      .where(and(eq(apiKeys.name, input.name), isNull(apiKeys.revokedAt)))
      .returning(KEY);
    if (!row) throw new KeyError('key_not_found', `there is no live key named ${input.name}`);
    const key = view(row);
    await audit(tx, {
      actor: input.actor,
      action: 'key.revoked',
      reason: input.reason ?? null,
      details: { key: key.name, role: key.role },
    });
    return key;
  });
}

/** The live key a token belongs to, if any: one indexed lookup by its hash. */
export async function findKeyByToken(db: Db, token: string): Promise<{ name: string; role: Role } | undefined> {
  const [row] = await db
    .select({ name: apiKeys.name, role: apiKeys.role })
    .from(apiKeys)
    .where(and(eq(apiKeys.tokenHash, hashToken(token)), isNull(apiKeys.revokedAt)));
  // The check constraint holds `role` to the roles.
  return row && { name: row.name, role: row.role as Role };
}
