import { appendFileSync, cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { parseSettings } from '../../src/config/settings.ts';
import { openDatabase, rowsOf } from '../../src/db/database.ts';
import { createHub, type Hub } from '../../src/hub.ts';
import { createLogger } from '../../src/log/log.ts';
import { loadWorkspace } from '../../src/workspace/workspace.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789';
/** One bootstrap key per role (`AURUM_API_KEYS`); their names are `env:<role>`. */
export const ROLE_KEYS = {
  admin: ADMIN_KEY,
  reader: 'test-reader-key-0123',
  ops: 'test-ops-key-0123',
  compliance: 'test-compliance-key-0123',
} as const;
export const SECRETS = { CRM_SECRET: 'crm-secret-0123456789abcdef', SHOP_SECRET: 'shop-secret-0123456789abcdef' };
export const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'workspace');

export interface TestHub {
  hub: Hub;
  testDb: TestDatabase;
  configDir: string;
  call(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = any>(method: string, route: string, body?: unknown): Promise<T>;
  /** Calls the API with the bootstrap key of a role (none: no Authorization header). */
  as(
    role: keyof typeof ROLE_KEYS | undefined,
    method: string,
    route: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  postWebhook(source: string, body: string, secret?: string, headers?: Record<string, string>): Promise<Response>;
  count(table: string): Promise<number>;
  /** Waits until every queued job has finished: the pipeline has settled. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A copy of the fixture workspace, so a test may edit a mapping without touching the others. With
 * `onInvalid: 'quarantine'`, every mapping quarantines a record holding an invalid value, as all did
 * before invalid values were dropped: for tests that need records to fail mapping.
 */
export function copyWorkspace(options: { onInvalid?: 'quarantine' } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-ws-'));
  cpSync(FIXTURE, dir, { recursive: true });
  if (options.onInvalid) {
    for (const name of readdirSync(path.join(dir, 'mappings'))) {
      appendFileSync(path.join(dir, 'mappings', name), `onInvalid: ${options.onInvalid}\n`);
    }
  }
  return dir;
}

export interface TestHubOptions {
  env?: Record<string, string>;
  configDir?: string;
  workers?: boolean;
  /** Share another hub's database, as a second process would; it is then not dropped on stop. */
  shareDatabase?: TestDatabase;
}

export async function startTestHub(options: TestHubOptions = {}): Promise<TestHub> {
  const configDir = options.configDir ?? copyWorkspace();
  const env = {
    AURUM_API_KEYS: Object.entries(ROLE_KEYS)
      .map(([role, token]) => `${role}:${token}`)
      .join(','),
    AURUM_CONFIG_DIR: configDir,
    AURUM_DEFAULT_REGION: 'GB',
    AURUM_DELIVERY_RETRY_DELAY: '1',
    AURUM_DELIVERY_RETRY_LIMIT: '3',
    // The test receivers listen on 127.0.0.1.
    AURUM_ALLOW_PRIVATE_DESTINATIONS: 'true',
    AURUM_DELIVERY_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'silent',
    ...SECRETS,
    ...options.env,
  };
  Object.assign(process.env, SECRETS);
  const settings = parseSettings(env);
  const testDb = options.shareDatabase ? await shareDatabase(options.shareDatabase) : await createTestDatabase();
  const hub = await createHub({
    settings,
    database: testDb.database,
    workspace: loadWorkspace(configDir, env),
    log: createLogger(process.env['TEST_LOG'] ?? 'silent'),
    workers: options.workers ?? true,
    pollingIntervalSeconds: 0.5,
  });
  const db = testDb.database.db;

  const call = (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(
      hub.app.request(route, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    );
  const as: TestHub['as'] = (role, method, route, body, headers = {}) =>
    Promise.resolve(
      hub.app.request(route, {
        method,
        headers: { 'content-type': 'application/json', ...(role ? { authorization: `Bearer ${ROLE_KEYS[role]}` } : {}), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
  const count = async (table: string) =>
    Number(rowsOf<{ n: string | number }>(await db.execute(sql.raw(`select count(*) as n from ${table}`)))[0]?.n ?? 0);

  return {
    hub,
    testDb,
    configDir,
    call,
    as,
    async json(method, route, body) {
      const response = await call(method, route, body);
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${route} → ${response.status} ${text}`);
      return JSON.parse(text);
    },
    async postWebhook(source, body, secret, headers = {}) {
      const key = `${source.toUpperCase()}_SECRET` as keyof typeof SECRETS;
      const signature = await sign(secret ?? SECRETS[key] ?? 'none', body);
      return hub.app.request(`/webhooks/${source}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, ...headers },
        body,
      });
    },
    count,
    async settle() {
      await waitFor(async () => {
        const [row] = rowsOf<{ n: string | number }>(
          await db.execute(
            sql`select (select count(*) from pgboss.job where state < 'completed' and name like 'aurum-%') + (select count(*) from intake_outbox) as n`,
          ),
        );
        return Number(row?.n) === 0;
      }, 30_000);
    },
    async stop() {
      await hub.stop();
      await testDb.drop();
    },
  };
}

/** Another connection to the same database: its own pool on PostgreSQL, the same instance on PGlite. */
async function shareDatabase(shared: TestDatabase): Promise<TestDatabase> {
  if (!shared.url) return { ...shared, drop: async () => {} };
  const database = await openDatabase({ databaseUrl: shared.url, dataDir: 'unused', max: 8, migrate: false });
  return { database, url: shared.url, drop: () => database.close() };
}

/**
 * `count` hubs on one database (on PostgreSQL: each with its own pg-boss and connection pool, as
 * separate processes would have), all on `configDir` with `env`. `stop` stops them all.
 */
export async function startSharedHubs(
  count: number,
  options: { env: Record<string, string>; configDir: string },
): Promise<{ hubs: TestHub[]; stop(): Promise<void> }> {
  const first = await startTestHub(options);
  const hubs = [first];
  for (let i = 1; i < count; i++) hubs.push(await startTestHub({ ...options, shareDatabase: first.testDb }));
  return {
    hubs,
    async stop() {
      for (const hub of hubs.slice(1)) await hub.stop();
      await first.stop();
    },
  };
}

/**
 * A hub on `configDir`, sharing the database of `previous` (stopped first), as a restart of one
 * process would; `started` collects each hub for the test file to stop.
 */
export async function restartTestHub(configDir: string, previous: TestHub | undefined, started: TestHub[]): Promise<TestHub> {
  if (previous) await previous.hub.stop();
  const t = await startTestHub({ configDir, ...(previous ? { shareDatabase: previous.testDb } : {}) });
  started.push(t);
  return t;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
