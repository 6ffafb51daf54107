import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Table } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { type ConstructorOptions, fromPglite } from 'pg-boss';
import postgres from 'postgres';
import lockfile from 'proper-lockfile';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction: anything that runs queries, the way drizzle hands it to `db.transaction`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Queryable = Db | Tx;

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** How pg-boss reaches the same database. */
  bossOptions: ConstructorOptions;
  close(): Promise<void>;
}

export class DataDirLockedError extends Error {
  constructor(dataDir: string) {
    super(
      `another Aurum process is using the embedded database in ${dataDir}. ` +
        'Embedded mode is one process: stop the other one, use another AURUM_DATA_DIR, ' +
        'or set DATABASE_URL to share PostgreSQL between processes.',
    );
    this.name = 'DataDirLockedError';
  }
}

const migrationsFolder = path.join(import.meta.dirname, '..', '..', 'migrations');
/** Any fixed 64-bit number: every process that migrates takes this lock first. */
const MIGRATION_LOCK = 7_220_115_001;

/** postgres.js returns rows as the result itself, PGlite as `.rows`: read either. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * Any row shape as raw `execute` may return it: its dates also as text, its numbers also as text
 * (int8 on postgres.js). For columns of one table, `RawRow` below is exact about which are int8.
 */
export type Raw<T> = {
  [K in keyof T]: T[K] extends Date
    ? Date | string
    : T[K] extends number
      ? number | string
      : T[K] extends Date | null
        ? Date | string | null
        : T[K] extends number | null
          ? number | string | null
          : T[K];
};

/**
 * The columns `K` of a `table` row as raw `execute` returns them, selected under their schema names
 * (`profile_id as "profileId"`), so a raw query's rows need no mapper. Not quite `$inferSelect`:
 * drizzle turns the drivers' date parsing off, so a timestamp arrives as text (`new Date` it), and
 * postgres.js returns int8 (`bigint` columns, `count(*)`) as text where PGlite gives a number (`Number` it).
 */
export type RawRow<T extends Table, K extends keyof T['$inferSelect'] & keyof T['_']['columns']> = {
  [P in K]: RawValue<T['$inferSelect'][P], T['_']['columns'][P]['_']['columnType']>;
};
type RawValue<V, ColumnType> = V extends Date
  ? Date | string
  : V extends number
    ? ColumnType extends 'PgBigInt53'
      ? number | string
      : V
    : V;

export interface OpenOptions {
  databaseUrl?: string | undefined;
  /** A directory for embedded PGlite, or `memory://` for a throwaway one. */
  dataDir: string;
  migrate?: boolean;
  /** postgres.js pool size. */
  max?: number;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  const database = options.databaseUrl ? await openPostgres(options.databaseUrl, options.max ?? 10) : await openPglite(options.dataDir);
  if (options.migrate ?? true) await migrateDatabase(database, options.databaseUrl);
  return database;
}

async function openPglite(dataDir: string): Promise<Database> {
  let release: (() => Promise<void>) | undefined;
  if (dataDir !== 'memory://') {
    mkdirSync(dataDir, { recursive: true });
    release = await lockDataDir(dataDir);
  }
  const client = new PGlite(dataDir === 'memory://' ? undefined : path.join(dataDir, 'pgdata'));
  await client.waitReady;
  return {
    kind: 'pglite',
    db: drizzlePglite(client, { schema }) as unknown as Db,
    bossOptions: { db: fromPglite(client), backend: 'pglite' },
    async close() {
      await client.close();
      await release?.();
    },
  };
}

/**
 * PGlite would let a second process open the same files and corrupt them: hold a lock for our life.
 * The lock is a directory whose mtime its holder refreshes (proper-lockfile), so a process killed
 * with SIGKILL leaves one that only goes stale after `stale` ms: a restart would be refused that
 * long. The holder's pid and host are written beside it, so a lock whose holder is known dead (its
 * pid gone on this host) is taken over at once; a live holder's lock, or one from another host
 * (a shared volume), still refuses.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockfilePath = path.join(dataDir, 'aurum.lock');
  const ownerFile = path.join(dataDir, 'aurum.lock.owner');
  const options = {
    lockfilePath,
    stale: 15_000,
    update: 5_000,
    onCompromised: (error: Error) => {
      console.error(`lost the lock on ${dataDir}: ${error.message}; stopping to protect the data`);
      process.exit(70);
    },
  };
  // Taking over a dead holder's lock is remove-then-create, so two processes starting at once
  // could each remove the other's new lock: the whole acquisition is serialised by a short lock.
  const acquiring = await lockfile
    .lock(path.join(dataDir, 'aurum-acquire'), { realpath: false, stale: 5_000, retries: { retries: 40, minTimeout: 25, maxTimeout: 250 } })
    .catch((error: { code?: string }) => {
      throw error.code === 'ELOCKED' ? new DataDirLockedError(dataDir) : error;
    });
  try {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(dataDir, options);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ELOCKED') throw error;
      if (!holderIsDead(dataDir, ownerFile)) throw new DataDirLockedError(dataDir);
      rmSync(lockfilePath, { recursive: true, force: true });
      release = await lockfile.lock(dataDir, options).catch((again: { code?: string }) => {
        throw again.code === 'ELOCKED' ? new DataDirLockedError(dataDir) : again;
      });
    }
    writeFileSync(ownerFile, JSON.stringify({ pid: process.pid, host: hostname() }));
    held.add(dataDir);
    return async () => {
      held.delete(dataDir);
      await release();
    };
  } finally {
    await acquiring();
  }
}

/** Data dirs this process holds, so it never takes its own lock over. */
const held = new Set<string>();

/** The lock's holder was a process on this host that no longer runs. Unknown: not dead. */
function holderIsDead(dataDir: string, ownerFile: string): boolean {
  if (held.has(dataDir)) return false;
  let owner: { pid?: unknown; host?: unknown };
  try {
    owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as typeof owner;
  } catch {
    return false;
  }
  if (owner.host !== hostname() || typeof owner.pid !== 'number') return false;
  // Our own pid, yet not held by us: an earlier life of this process's pid, as in a container
  // restarted after a kill, where the hub is pid 1 every time.
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the pid is alive, though not ours to signal.
    return (error as { code?: string }).code === 'ESRCH';
  }
}

/**
 * drizzle runs `db.execute` unprepared (`prepare: false`): every statement is parsed, described and
 * planned again on each call, and its ParameterDescription read back. The hub's SQL is static text
 * with array parameters, so each connection prepares each statement once instead (postgres.js keeps
 * them per connection).
 */
function preparing(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (query: string, params?: unknown[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, params as never, { ...options, prepare: true });
      }
      if (key === 'begin') {
        return (...args: unknown[]) => {
          const fn = args.pop() as (sql: postgres.TransactionSql) => unknown;
          return (target.begin as (...a: unknown[]) => unknown)(...args, (sql: postgres.TransactionSql) =>
            fn(preparing(sql as unknown as postgres.Sql) as unknown as postgres.TransactionSql),
          );
        };
      }
      if (key === 'savepoint') {
        return (...args: unknown[]) => {
          const fn = args.pop() as (sql: postgres.TransactionSql) => unknown;
          const savepoint = (target as unknown as { savepoint: (...a: unknown[]) => unknown }).savepoint;
          return savepoint(...args, (sql: postgres.TransactionSql) =>
            fn(preparing(sql as unknown as postgres.Sql) as unknown as postgres.TransactionSql),
          );
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const client = postgres(url, { max, onnotice: () => {} });
  return {
    kind: 'postgres',
    db: drizzlePostgres(preparing(client), { schema }) as unknown as Db,
    bossOptions: { connectionString: url, max: Math.max(4, Math.ceil(max / 2)) },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/** Applies the committed migrations; concurrent starts on PostgreSQL wait for each other. */
export async function migrateDatabase(database: Database, databaseUrl?: string): Promise<void> {
  if (database.kind === 'pglite' || !databaseUrl) {
    await migratePglite(database.db as never, { migrationsFolder });
    return;
  }
  // One connection, so the advisory lock and the migration share a session.
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}
