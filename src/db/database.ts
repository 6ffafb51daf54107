import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
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
    // PGlite would let a second process open the same files and corrupt them: hold a lock for our life.
    try {
      release = await lockfile.lock(dataDir, {
        lockfilePath: path.join(dataDir, 'aurum.lock'),
        stale: 15_000,
        update: 5_000,
        onCompromised: (error) => {
          console.error(`lost the lock on ${dataDir}: ${error.message}; stopping to protect the data`);
          process.exit(70);
        },
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'ELOCKED') throw new DataDirLockedError(dataDir);
      throw error;
    }
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

async function openPostgres(url: string, max: number): Promise<Database> {
  const client = postgres(url, { max, onnotice: () => {} });
  return {
    kind: 'postgres',
    db: drizzlePostgres(client, { schema }) as unknown as Db,
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
