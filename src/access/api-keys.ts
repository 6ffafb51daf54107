import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Role } from '../config/settings.ts';
import type { Db, Tx } from '../db/database.ts';
import { rowsOf } from '../db/database.ts';
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

interface KeyRow {
  id: string | number;
  name: string;
  role: Role;
  token_prefix: string;
  created_by: string;
  created_at: Date | string;
  revoked_at: Date | string | null;
  revoked_by: string | null;
}
const view = (r: KeyRow): StoredKey => ({
  id: Number(r.id),
  name: r.name,
  role: r.role,
  tokenPrefix: r.token_prefix,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at).toISOString(),
  revokedAt: r.revoked_at ? new Date(r.revoked_at).toISOString() : null,
  revokedBy: r.revoked_by,
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
    const [row] = rowsOf<KeyRow>(
      await tx.execute(sql`
        insert into api_keys (name, role, token_hash, token_prefix, created_by)
        values (${input.name}, ${input.role}, ${hashToken(token)}, ${token.slice(0, 12)}, ${input.actor})
        returning id, name, role, token_prefix, created_by, created_at, revoked_at, revoked_by`),
    );
    const key = view(row as KeyRow);
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
  return rowsOf<KeyRow>(
    await db.execute(sql`
      select id, name, role, token_prefix, created_by, created_at, revoked_at, revoked_by from api_keys
      ${options.includeRevoked ? sql`` : sql`where revoked_at is null`} order by id`),
  ).map(view);
}

/** Revokes the live key of that name; its token stops working at the next request. */
export async function revokeKey(db: Db, input: { name: string; actor: string; reason?: string | null }): Promise<StoredKey> {
  return db.transaction(async (tx) => {
    const [row] = rowsOf<KeyRow>(
      await tx.execute(sql`
        update api_keys set revoked_at = now(), revoked_by = ${input.actor}
        where name = ${input.name} and revoked_at is null
        returning id, name, role, token_prefix, created_by, created_at, revoked_at, revoked_by`),
    );
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
  const [row] = rowsOf<{ name: string; role: Role }>(
    await db.execute(sql`select name, role from api_keys where token_hash = ${hashToken(token)} and revoked_at is null`),
  );
  return row;
}
