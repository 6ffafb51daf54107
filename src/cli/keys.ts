import { existsSync } from 'node:fs';
import path from 'node:path';
import { createKey, KeyError, keyNameProblem, listKeys, revokeKey } from '../access/api-keys.ts';
import { parseSettings, ROLES, type Role, SettingsError } from '../config/settings.ts';
import { type Database, DataDirLockedError, openDatabase } from '../db/database.ts';

/** The CLI acts as `cli`, or `cli:<name>` when AURUM_ACTOR names who is at the keyboard. */
const actor = () => (process.env['AURUM_ACTOR'] ? `cli:${process.env['AURUM_ACTOR']}` : 'cli');

/**
 * `aurum keys …` works on the database directly, so it can make the first keys before any exist.
 * It needs the database settings only: not the API keys the server needs.
 */
async function withDatabase<T>(run: (database: Database) => Promise<T>, options: { ifAbsent?: (dataDir: string) => T } = {}): Promise<T> {
  let database: Database;
  try {
    const settings = parseSettings(process.env, process.cwd(), { serveHttp: false });
    // Opening an embedded database creates it: only `create` should leave a new .aurum/ behind.
    const { ifAbsent } = options;
    if (ifAbsent && !settings.databaseUrl && !existsSync(path.join(settings.dataDir, 'pgdata'))) return ifAbsent(settings.dataDir);
    database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      throw new Error(
        `${error.message} While the hub runs, an admin key can manage keys with POST /keys, GET /keys and DELETE /keys/:name.`,
      );
    }
    if (error instanceof SettingsError) throw new Error(error.message);
    throw error;
  }
  try {
    return await run(database);
  } catch (error) {
    if (error instanceof KeyError) throw new Error(error.message);
    throw error;
  } finally {
    await database.close();
  }
}

export async function runKeysCreate(options: { role: string; name: string; reason?: string }): Promise<void> {
  if (!ROLES.includes(options.role as Role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  // The same rule as POST /keys: reserved actor names (aurum, cli, env:*, source:*) and the character set.
  const problem = keyNameProblem(options.name);
  if (problem) throw new Error(`--name: ${problem.message}`);
  const { key, token } = await withDatabase((database) =>
    createKey(database.db, { name: options.name, role: options.role as Role, actor: actor(), reason: options.reason ?? null }),
  );
  // The token alone on stdout, so `TOKEN=$(aurum keys create …)` works; the rest on stderr.
  process.stderr.write(`created key ${key.name} (${key.role}). The token is shown once; store it now:\n`);
  process.stdout.write(`${token}\n`);
}

export async function runKeysList(options: { revoked?: boolean }): Promise<void> {
  const keys = await withDatabase((database) => listKeys(database.db, { includeRevoked: options.revoked ?? false }), {
    ifAbsent: (dataDir) => {
      console.log(`no database yet in ${dataDir}, so no keys (aurum keys create or aurum start makes one)`);
      return undefined;
    },
  });
  if (keys === undefined) return;
  if (keys.length === 0) {
    console.log('no keys (AURUM_API_KEYS keys are not listed: they live in the environment)');
    return;
  }
  console.table(
    keys.map((k) => ({
      name: k.name,
      role: k.role,
      token: `${k.tokenPrefix}…`,
      created: k.createdAt,
      by: k.createdBy,
      ...(options.revoked ? { revoked: k.revokedAt ?? '' } : {}),
    })),
  );
}

export async function runKeysRevoke(name: string, options: { reason?: string }): Promise<void> {
  const key = await withDatabase((database) => revokeKey(database.db, { name, actor: actor(), reason: options.reason ?? null }), {
    ifAbsent: (dataDir) => {
      throw new Error(`no database yet in ${dataDir}, so no key named ${name}`);
    },
  });
  console.log(`revoked key ${key.name} (${key.role})`);
}
