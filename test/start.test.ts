import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, startCli } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { writeWorkspace } from './helpers/workspace.ts';

const repo = path.join(import.meta.dirname, '..');
/**
 * The hub's own workspace, not the example at the repo root (an ops engineer adds sources there).
 * Its secrets are named as demo.env names them, so `npm start` fills them in from there.
 */
const configDir = writeWorkspace({
  'connectors/support.yaml': 'type: webhook\nsecret: ${SUPPORT_WEBHOOK_SECRET}\n',
  'connectors/erp.yaml': 'type: webhook\nsecret: ${ERP_WEBHOOK_SECRET}\n',
  'mappings/support-user.yaml':
    'source: support\nrecordId: id\nupdatedAt: updated_at\nprofile: |\n  { "name": { "full": name }, "emails": [email] }\n',
});
const children: ChildProcess[] = [];
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const db of databases) await db.drop();
});

const baseEnv = (dataDir: string, extra: Record<string, string> = {}) => ({
  PATH: process.env['PATH'] ?? '',
  AURUM_API_KEYS: 'admin:start-test-key-0123',
  AURUM_DATA_DIR: dataDir,
  AURUM_CONFIG_DIR: configDir,
  SUPPORT_WEBHOOK_SECRET: 's'.repeat(16),
  ERP_WEBHOOK_SECRET: 'e'.repeat(16),
  PORT: '0',
  LOG_LEVEL: 'warn',
  ...extra,
});

const start = (env: NodeJS.ProcessEnv) => startCli(env, children);

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

describe('aurum start on the embedded database', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-data-'));

  it('serves the API, prints its URL and a first thing to try', async () => {
    const { url } = await start(baseEnv(dataDir));
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: 'ok', database: 'pglite' });
  });

  it('refuses a second process on the same data dir with a clear error', async () => {
    const second = spawn(process.execPath, [CLI, 'start'], { env: baseEnv(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    second.stderr.on('data', (c: Buffer) => (stderr += c));
    expect(await exited(second)).toBe(1);
    expect(stderr).toContain('another Aurum process is using the embedded database');
  });

  it('stops cleanly on SIGTERM, releasing the data dir', async () => {
    const first = children[0] as ChildProcess;
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    const { child } = await start(baseEnv(dataDir));
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('starts at once after the previous hub on the data dir was killed with SIGKILL', async () => {
    const killedDir = mkdtempSync(path.join(tmpdir(), 'aurum-data-'));
    const { child } = await start(baseEnv(killedDir));
    child.kill('SIGKILL');
    await exited(child);
    // Its lock stays fresh (as if refreshed every 5 s, it goes stale after 15 s), but its holder is gone.
    // Until the new hub takes it over: then the lock is the new hub's to refresh.
    const owner = () => JSON.parse(readFileSync(path.join(killedDir, 'aurum.lock.owner'), 'utf8')).pid as number;
    const fresh = setInterval(() => {
      try {
        if (owner() !== child.pid) clearInterval(fresh);
        else utimesSync(path.join(killedDir, 'aurum.lock'), new Date(), new Date());
      } catch {
        // Mid-takeover the lock or its owner file is briefly absent.
      }
    }, 250);
    const again = await start(baseEnv(killedDir)).finally(() => clearInterval(fresh));
    expect(await (await fetch(`${again.url}/health`)).json()).toEqual({ status: 'ok', database: 'pglite' });
    again.child.kill('SIGTERM');
    expect(await exited(again.child)).toBe(0);
  });

  it('stops at start-up naming an unset secret of the workspace', async () => {
    const env = baseEnv(mkdtempSync(path.join(tmpdir(), 'aurum-data-')));
    delete (env as Record<string, string>)['ERP_WEBHOOK_SECRET'];
    const child = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    expect(await exited(child)).toBe(1);
    expect(stderr).toMatch(/connectors\/erp\.yaml:\d+ secret: environment variable ERP_WEBHOOK_SECRET is not set/);
  });
});

describe('npm start', () => {
  it('stops the hub on SIGTERM to npm, releasing the data dir', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-data-'));
    // demo.env fills in what is not set here (the workspace's secrets); the environment wins over it (the workspace).
    const npm = spawn('npm', ['start'], {
      cwd: repo,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: tmpdir(),
        AURUM_DATA_DIR: dataDir,
        AURUM_CONFIG_DIR: configDir,
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(npm);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      npm.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        const match = /running at (http:\/\/localhost:\d+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      npm.on('exit', (code) => reject(new Error(`npm start exited ${code}: ${out}`)));
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    npm.kill('SIGTERM');
    await exited(npm);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    // The hub itself is gone, not only npm: its data dir is free for the next one.
    const next = await start(baseEnv(dataDir));
    next.child.kill('SIGTERM');
    expect(await exited(next.child)).toBe(0);
  });
});

describe('aurum migrate', () => {
  it('applies the migrations alone and exits', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'migrate'], {
      env: baseEnv(mkdtempSync(path.join(tmpdir(), 'aurum-data-'))),
    });
    expect(stdout).toContain('migrations applied (pglite)');
  });

  it('needs neither API keys nor webhook secrets: it serves no HTTP', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'migrate'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-data-')),
        AURUM_CONFIG_DIR: configDir,
      },
    });
    expect(stdout).toContain('migrations applied (pglite)');
  });
});

describe('aurum train', () => {
  it('needs neither API keys nor webhook secrets: it reads stored records and identity.yaml', async () => {
    const failed = await promisify(execFile)(process.execPath, [CLI, 'train'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-data-')),
        AURUM_CONFIG_DIR: configDir,
      },
    }).catch((e: { code: number; stderr: string }) => e);
    // An empty database is the one thing it complains of.
    expect(failed).toMatchObject({ code: 1, stderr: 'aurum: training needs at least 2 records; the hub holds 0\n' });
  });
});

describe.runIf(process.env['TEST_DATABASE_URL'])('aurum start on PostgreSQL', () => {
  it('runs the same code with DATABASE_URL, as API and worker processes apart', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const env = baseEnv('unused', { DATABASE_URL: db.url as string });
    const api = await start({ ...env, AURUM_ROLE: 'api' });
    const worker = spawn(process.execPath, [CLI, 'start'], { env: { ...env, AURUM_ROLE: 'worker' }, stdio: 'ignore' });
    children.push(worker);
    expect(await (await fetch(`${api.url}/health`)).json()).toEqual({ status: 'ok', database: 'postgres' });
    const { sign } = await import('@octokit/webhooks-methods');
    const body = JSON.stringify({ id: 77, name: 'Ada', email: 'ada@example.com', updated_at: '2026-01-01T00:00:00Z' });
    const accepted = await fetch(`${api.url}/webhooks/support`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': await sign('s'.repeat(16), body) },
      body,
    });
    expect(accepted.status).toBe(202);
    const deadline = Date.now() + 20_000;
    let profiles: unknown[] = [];
    while (profiles.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const response = await fetch(`${api.url}/profiles?email=ada@example.com`, {
        headers: { authorization: 'Bearer start-test-key-0123' },
      });
      profiles = ((await response.json()) as { profiles: unknown[] }).profiles;
    }
    expect(profiles).toHaveLength(1);
  });
});
