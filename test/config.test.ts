import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSettings, SettingsError } from '../src/config/settings.ts';
import { ConfigError } from '../src/config/yaml-file.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { copyExampleWorkspace } from './helpers/workspace.ts';

const run = promisify(execFile);
const cli = path.join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const repo = path.join(import.meta.dirname, '..');

function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-cfg-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function problemsOf(dir: string, env: NodeJS.ProcessEnv = { CRM_SECRET: 'a-long-enough-secret' }) {
  try {
    loadWorkspace(dir, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const connector = 'type: webhook\nsecret: ${CRM_SECRET}\n';
const mapping = 'source: crm\nrecordId: id\nprofile: |\n  { "emails": [email] }\n';

describe('settings', () => {
  it('apply the documented defaults', () => {
    const settings = parseSettings({ AURUM_API_KEYS: 'admin:0123456789' }, '/srv');
    expect(settings).toMatchObject({ port: 8080, role: 'all', configDir: '/srv', dataDir: '/srv/.aurum', maxBodyBytes: 1_048_576 });
    expect(settings.apiKeys).toEqual([{ role: 'admin', token: '0123456789', name: 'env:admin' }]);
  });

  it('stop with a message naming every bad variable', () => {
    const attempt = () =>
      parseSettings({
        PORT: 'eighty',
        AURUM_ROLE: 'boss',
        DATABASE_URL: 'mysql://x',
        AURUM_API_KEYS: 'king:0123456789',
        AURUM_MAX_BODY: '-1',
      });
    expect(attempt).toThrow(SettingsError);
    const message = (() => {
      try {
        attempt();
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const name of ['PORT', 'AURUM_ROLE', 'DATABASE_URL', 'AURUM_API_KEYS', 'AURUM_MAX_BODY']) expect(message).toContain(name);
  });

  it('require API keys unless the process only runs workers', () => {
    expect(() => parseSettings({})).toThrow(/AURUM_API_KEYS/);
    expect(parseSettings({ AURUM_ROLE: 'worker' }).role).toBe('worker');
  });

  it('need no API keys for a command that serves no HTTP', () => {
    expect(parseSettings({}, '/srv', { serveHttp: false }).apiKeys).toEqual([]);
  });

  it('refuse a default region phone numbers are not known for', () => {
    expect(() => parseSettings({ AURUM_API_KEYS: 'admin:0123456789', AURUM_DEFAULT_REGION: 'XX' })).toThrow(
      /AURUM_DEFAULT_REGION: not a region phone numbers are known for.*\(got "XX"\)/,
    );
    expect(parseSettings({ AURUM_API_KEYS: 'admin:0123456789', AURUM_DEFAULT_REGION: 'DE' }).defaultRegion).toBe('DE');
  });

  it('list the allowed values of a bad enum setting', () => {
    const attempt = () => parseSettings({ AURUM_API_KEYS: 'admin:0123456789', AURUM_ROLE: 'boss', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(/AURUM_ROLE: must be equal to one of the allowed values: api, worker, all \(got "boss"\)/);
    expect(attempt).toThrow(/LOG_LEVEL: must be equal to one of the allowed values: fatal, error, warn, info, debug, trace, silent/);
  });
});

describe('the workspace', () => {
  it('loads sources and compiled mappings, with defaults', () => {
    const dir = workspace({ 'connectors/crm.yaml': connector, 'mappings/crm.yaml': mapping });
    const loaded = loadWorkspace(dir, { CRM_SECRET: 'a-long-enough-secret' });
    expect(loaded.sources.get('crm')).toMatchObject({ type: 'webhook', priority: 0, config: { secret: 'a-long-enough-secret' } });
    expect(loaded.mappings[0]).toMatchObject({ source: 'crm', object: 'record', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('names an unset ${VAR}, with its file, field and line', () => {
    const dir = workspace({ 'connectors/crm.yaml': 'type: webhook\npriority: 5\nsecret: ${CRM_SECRET}\n' });
    expect(problemsOf(dir, {})).toEqual([
      {
        file: expect.stringContaining('connectors/crm.yaml'),
        field: 'secret',
        line: 3,
        message: 'environment variable CRM_SECRET is not set',
      },
    ]);
  });

  it('lists every problem of a connector with an unset variable, and its mappings, without calling the source absent', () => {
    const dir = workspace({
      'connectors/crm.yaml': `${connector}colour: blue\n`,
      'mappings/crm.yaml': 'source: crm\nrecordId: id\nprofile: |\n  { "emails": [email }\n',
    });
    const problems = problemsOf(dir, {});
    expect(problems).toEqual([
      expect.objectContaining({ field: 'secret', line: 2, message: 'environment variable CRM_SECRET is not set' }),
      expect.objectContaining({ field: 'colour', line: 3, message: 'is not a known field' }),
      expect.objectContaining({
        file: expect.stringContaining('mappings/crm.yaml'),
        field: 'profile',
        line: 3,
        message: expect.stringMatching(/JSONata/),
      }),
    ]);
  });

  it('loads without the variables when they are not required', () => {
    const dir = workspace({ 'connectors/crm.yaml': connector, 'mappings/crm.yaml': mapping });
    const loaded = loadWorkspace(dir, {}, { requireEnv: false });
    expect(loaded.sources.get('crm')).toMatchObject({ type: 'webhook' });
    expect(loaded.mappings).toHaveLength(1);
  });

  it('names unknown and mistyped fields with their line', () => {
    const dir = workspace({
      'connectors/crm.yaml': `${connector}priority: high\ncolour: blue\n`,
      'mappings/crm.yaml': `${mapping}recordid: id\n`,
    });
    const problems = problemsOf(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'priority', line: 3, message: 'must be integer' }),
        expect.objectContaining({ field: 'colour', line: 4, message: 'is not a known field' }),
        expect.objectContaining({ file: expect.stringContaining('mappings/crm.yaml'), field: 'recordid', line: 5 }),
      ]),
    );
  });

  it('reports a JSONata expression that does not compile, and an unknown source', () => {
    const dir = workspace({
      'connectors/crm.yaml': connector,
      'mappings/bad.yaml': 'source: crm\nrecordId: id\nprofile: |\n  { "emails": [email }\n',
      'mappings/orphan.yaml': 'source: erp\nrecordId: id\nprofile: "{}"\n',
    });
    const problems = problemsOf(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          file: expect.stringContaining('bad.yaml'),
          field: 'profile',
          line: 3,
          message: expect.stringMatching(/JSONata S0\d+ at character \d+/),
        }),
        expect.objectContaining({
          file: expect.stringContaining('orphan.yaml'),
          field: 'source',
          line: 1,
          message: expect.stringContaining('unknown source "erp"'),
        }),
      ]),
    );
  });

  it('validates identity.yaml, naming the file, field and line', () => {
    const badThreshold = workspace({ 'connectors/crm.yaml': connector, 'identity.yaml': 'emIterations: 10\nthreshold: 2\n' });
    expect(problemsOf(badThreshold)).toEqual([
      expect.objectContaining({ file: expect.stringContaining('identity.yaml'), field: 'threshold', line: 2 }),
    ]);
    const unknownField = workspace({
      'connectors/crm.yaml': connector,
      'identity.yaml': 'comparisons:\n  - field: shoeSize\n    levels: [{ exact: true }]\n',
    });
    expect(problemsOf(unknownField)).toEqual([
      expect.objectContaining({
        file: expect.stringContaining('identity.yaml'),
        field: 'comparisons.0.field',
        message: expect.stringContaining('unknown field "shoeSize"'),
      }),
    ]);
  });

  it('merges identity.yaml guards key by key with the defaults', () => {
    const dir = workspace({ 'connectors/crm.yaml': connector, 'identity.yaml': 'guards:\n  maxPerProfile: { emails: 5 }\n' });
    const { identity } = loadWorkspace(dir, { CRM_SECRET: 'a-long-enough-secret' });
    expect(identity.guards).toEqual({ uniqueSystems: [], maxPerProfile: { emails: 5 } });
    expect(identity.threshold).toBe(0.9);
  });

  it('rejects an unknown connector type and a YAML syntax error', () => {
    const dir = workspace({ 'connectors/crm.yaml': 'type: telex\n', 'connectors/zen.yaml': 'type: webhook\n  secret: [\n' });
    const problems = problemsOf(dir);
    expect(problems.find((p) => p.file.endsWith('crm.yaml'))).toMatchObject({ field: 'type', message: expect.stringContaining('webhook') });
    expect(problems.find((p) => p.file.endsWith('zen.yaml'))?.line).toBeGreaterThan(0);
  });
});

describe('npm run aurum -- validate', () => {
  it('accepts the example workspace shipped in the repo', async () => {
    const env = {
      ...process.env,
      MARKETING_WEBHOOK_SECRET: 'x'.repeat(16),
      SUPPORT_WEBHOOK_SECRET: 'x'.repeat(16),
      BILLING_WEBHOOK_SECRET: 'x'.repeat(16),
      ERP_WEBHOOK_SECRET: 'x'.repeat(16),
    };
    // Its files alone: a source an ops engineer added beside them in the repo is theirs to validate.
    const { stdout } = await run(process.execPath, [cli, 'validate', '--config', copyExampleWorkspace()], { env });
    expect(stdout).toContain('ok: 4 sources, 5 mappings');
  });

  it('loads demo.env, so it passes on a fresh clone with nothing set', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'aurum', '--', 'validate'], {
      cwd: repo,
      // Only the workspace is named (the example's files, as on a fresh clone); demo.env sets the rest.
      env: { PATH: process.env['PATH'] ?? '', HOME: tmpdir(), AURUM_CONFIG_DIR: copyExampleWorkspace() },
    });
    expect(stdout).toContain('ok: 4 sources, 5 mappings');
  });

  it('exits 1 and prints every problem of a broken workspace', async () => {
    const dir = workspace({ 'connectors/crm.yaml': connector, 'mappings/bad.yaml': 'source: crm\nprofile: "{"\n' });
    const failure = await run(process.execPath, [cli, 'validate', '--config', dir], {
      env: { ...process.env, CRM_SECRET: 'a-long-enough-secret' },
    }).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('bad.yaml');
    expect(failure.stderr).toContain("must have required property 'recordId'");
  });
});
