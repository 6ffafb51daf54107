import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, startCli } from './helpers/cli.ts';
import { SECRETS, waitFor } from './helpers/hub.ts';

const repo = path.join(import.meta.dirname, '..');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The bench mappings behind the test connectors; the hub never trains by itself here. */
function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-train-ws-'));
  cpSync(path.join(repo, 'bench', 'workspace', 'mappings'), path.join(dir, 'mappings'), { recursive: true });
  cpSync(path.join(repo, 'test', 'fixtures', 'workspace', 'connectors'), path.join(dir, 'connectors'), { recursive: true });
  writeFileSync(path.join(dir, 'identity.yaml'), 'training: { minRecords: 1000000 }\n');
  return dir;
}

const env = (dataDir: string, configDir: string) => ({
  PATH: process.env['PATH'] ?? '',
  AURUM_API_KEYS: 'admin:train-test-key-0123',
  AURUM_DATA_DIR: dataDir,
  AURUM_CONFIG_DIR: configDir,
  PORT: '0',
  LOG_LEVEL: 'warn',
  ...SECRETS,
});

const start = (processEnv: NodeJS.ProcessEnv) => startCli(processEnv, children);

const train = (processEnv: NodeJS.ProcessEnv) =>
  promisify(execFile)(process.execPath, [CLI, 'train'], { env: processEnv }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('aurum train', () => {
  const configDir = workspace();

  it('exits 1 with a clear message when there is nothing to train on', async () => {
    const result = await train(env(mkdtempSync(path.join(tmpdir(), 'aurum-data-')), configDir));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/training needs at least 2 records; the hub holds 0/);
  });

  it('trains a model on the records the hub stored, and the hub then serves it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aurum-data-'));
    const people = mkdtempSync(path.join(tmpdir(), 'aurum-people-'));
    execFileSync(process.execPath, [path.join(repo, 'bench', 'generate-people.ts'), '--people', '150', '--out', people], {
      stdio: 'ignore',
    });
    const records = readFileSync(path.join(people, 'crm.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { id: string; email?: string });

    const first = await start(env(dataDir, configDir));
    const body = JSON.stringify(records);
    const response = await fetch(`${first.url}/webhooks/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(SECRETS.CRM_SECRET, body) },
      body,
    });
    expect(response.status).toBe(202);
    const last = records.findLast((r) => r.email) as { email: string };
    const auth = { authorization: 'Bearer train-test-key-0123' };
    await waitFor(async () => {
      const found = (await (await fetch(`${first.url}/profiles?email=${encodeURIComponent(last.email)}`, { headers: auth })).json()) as any;
      return found.profiles.length > 0;
    });
    first.child.kill('SIGTERM');
    await new Promise((resolve) => first.child.on('exit', resolve));

    const result = await train(env(dataDir, configDir));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`model \\d+ trained on ${records.length} of ${records.length} records`));
    // About 150 people hold too few matched pairs to learn from, and
    // the command says so (on stderr: the model is trained and in force all the same).
    expect(result.stderr).toMatch(/^aurum: too few records to learn from/m);

    const second = await start(env(dataDir, configDir));
    const model = (await (await fetch(`${second.url}/identity/model`, { headers: auth })).json()) as any;
    expect(model.trainedBy).toBe('cli');
    expect(model.records).toBe(records.length);
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.on('exit', resolve));
  });
});
