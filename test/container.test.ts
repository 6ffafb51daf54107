/**
 * The Dockerfile and docker-compose.yml give the hub its whole workspace and an interface it can
 * be reached on. There is no Docker daemon in the test environment, so the Dockerfile's COPY lines
 * are carried out here as Docker would, and the result is loaded as the hub loads a workspace.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { copyExampleWorkspace } from './helpers/workspace.ts';

const repo = path.join(import.meta.dirname, '..');
const secrets = Object.fromEntries(['MARKETING', 'SUPPORT', 'BILLING', 'ERP'].map((s) => [`${s}_WEBHOOK_SECRET`, 'x'.repeat(16)]));
const dockerfile = readFileSync(path.join(repo, 'Dockerfile'), 'utf8');

/** A COPY source as Docker matches it: `*`, `?` and `[…]` against the names in the context. */
function matches(pattern: string, context: string): string[] {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return readdirSync(context).filter((name) => regex.test(name));
}

/** Runs the Dockerfile's COPY lines from `context` into a fresh /app; returns it. */
function buildApp(context: string): string {
  const app = mkdtempSync(path.join(tmpdir(), 'aurum-image-'));
  for (const line of dockerfile.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'COPY' || words.some((w) => w.startsWith('--'))) continue;
    const dest = path.join(app, words.at(-1) as string);
    const sources = words.slice(1, -1).flatMap((pattern) => matches(pattern, context));
    for (const source of sources) {
      const target = dest.endsWith(path.sep) || sources.length > 1 || words.at(-1) === './' ? path.join(dest, source) : dest;
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(context, source), target, { recursive: true });
    }
  }
  return app;
}

describe('the image', () => {
  it('carries the whole workspace: connectors, mappings, consent.yaml and identity.yaml when there is one', () => {
    const context = mkdtempSync(path.join(tmpdir(), 'aurum-context-'));
    for (const name of ['package.json', 'src', 'migrations']) cpSync(path.join(repo, name), path.join(context, name), { recursive: true });
    // The example's own files, not whatever else an ops engineer keeps beside them in connectors/.
    const example = copyExampleWorkspace();
    for (const name of ['connectors', 'mappings', 'consent.yaml'])
      cpSync(path.join(example, name), path.join(context, name), { recursive: true });
    writeFileSync(path.join(context, 'identity.yaml'), 'threshold: 0.8\n');
    const inImage = loadWorkspace(buildApp(context), secrets);
    const inRepo = loadWorkspace(context, secrets);
    expect([...inImage.sources.keys()]).toEqual([...inRepo.sources.keys()]);
    expect(inImage.mappings.map((m) => m.hash)).toEqual(inRepo.mappings.map((m) => m.hash));
    expect(inImage.purposes).toEqual(inRepo.purposes);
    expect(inImage.purposes.declared.length).toBeGreaterThan(0);
    expect(inImage.identity.threshold).toBe(0.8);
  });

  it('builds from a workspace without identity.yaml', () => {
    const app = buildApp(repo);
    expect(readdirSync(app)).toEqual(expect.arrayContaining(['connectors', 'mappings', 'consent.yaml']));
    expect(readdirSync(app)).not.toContain('identity.yaml');
  });

  it('listens on every interface of the container', () => {
    expect(dockerfile).toMatch(/^ENV AURUM_HOST=0\.0\.0\.0$/m);
  });
});

describe('docker compose', () => {
  const compose = parse(readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment: Record<string, string>; volumes?: string[] }>;
  };

  for (const name of ['hub', 'worker']) {
    it(`mounts the whole workspace into the ${name} and reads it from there`, () => {
      const service = compose.services[name];
      const [, hostSide, inContainer, mode] = /^(.+):([^:]+):(ro|rw)$/.exec(service?.volumes?.[0] ?? '') ?? [];
      expect(mode).toBe('ro');
      expect(service?.environment['AURUM_CONFIG_DIR']).toBe(inContainer);
      // By default the mount is this repository: the example workspace, every file of it.
      const defaultDir = path.join(repo, (hostSide ?? '').replace(/^\$\{AURUM_WORKSPACE:-(.*)\}$/, '$1'));
      // Secrets not required: a source an ops engineer added there, its secret unset here, is no problem of the mount.
      expect(loadWorkspace(defaultDir, secrets, { requireEnv: false }).purposes.declared.length).toBeGreaterThan(0);
      expect(service?.environment['AURUM_HOST']).toBe('0.0.0.0');
    });
  }
});
