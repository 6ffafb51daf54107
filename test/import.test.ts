/**
 * File import: `POST /sources/:source/import` streamed into the pipeline, `GET /imports/:id`, and
 * `aurum import` against a running hub.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDLE_TIMEOUT_MS, serveHub } from '../src/api/serve.ts';
import { CLI, startCli } from './helpers/cli.ts';
import { copyWorkspace, FIXTURE, SECRETS, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  // A record with an invalid value is quarantined whole, and counted so.
  t = await startTestHub({ configDir: copyWorkspace({ onInvalid: 'quarantine' }) });
});
afterAll(() => t?.stop());

const upload = (source: string, body: string, contentType: string) =>
  t.call('POST', `/sources/${source}/import`, body, { 'content-type': contentType });

interface ImportView {
  id: string;
  status: string;
  bytes: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  problems: { line: number | null; code: string; message: string }[];
  processed: number;
  quarantined: number;
  progress: number;
}

describe('POST /sources/:source/import', () => {
  it('stores a CSV file, counts a repeated record as a duplicate, and reports the pipeline’s progress', async () => {
    const csv =
      'id, first_name, last_name, email, updated_at\n' +
      'c1, Ada, Lovelace, ada@example.com, 2024-01-01T00:00:00Z\n' +
      'c2, Alan, Turing, not-an-email, 2024-01-01T00:00:00Z\n' +
      'c1, Ada, Lovelace, ada@example.com, 2024-01-01T00:00:00Z\n';
    const response = await upload('crm', csv, 'text/csv');
    expect(response.status).toBe(202);
    const received = (await response.json()) as ImportView;
    expect(received).toMatchObject({ status: 'received', accepted: 2, duplicates: 1, rejected: 0, bytes: Buffer.byteLength(csv) });
    await t.settle();
    const done = await t.json<ImportView>('GET', `/imports/${received.id}`);
    expect(done).toMatchObject({ status: 'done', processed: 2, progress: 1, quarantined: 1 });
    const { profiles } = await t.json<{ profiles: unknown[] }>('GET', '/profiles?email=ada@example.com');
    expect(profiles).toHaveLength(1);
  });

  it('streams a large NDJSON body a batch at a time, and lists the lines that are not records', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({ id: `n${i}`, first_name: `Given${i}`, last_name: 'Streamed', email: `n${i}@example.com` }),
    );
    lines.splice(10, 0, '{"id": "broken"', '[1, 2]');
    const encoder = new TextEncoder();
    // Sent in small chunks, as a slow client would: the server never needs the whole body at once.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const text = `${lines.join('\n')}\n`;
        for (let i = 0; i < text.length; i += 16_384) controller.enqueue(encoder.encode(text.slice(i, i + 16_384)));
        controller.close();
      },
    });
    const response = await t.hub.app.request('/sources/crm/import', {
      method: 'POST',
      headers: { authorization: `Bearer ${(await import('./helpers/hub.ts')).ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(202);
    const view = (await response.json()) as ImportView;
    expect(view).toMatchObject({ accepted: 5000, duplicates: 0, rejected: 2 });
    expect(view.problems).toEqual([
      { line: 11, code: 'malformed_json', message: 'not valid JSON' },
      { line: 12, code: 'not_an_object', message: 'not a JSON object' },
    ]);
    await t.settle();
    expect(await t.json<ImportView>('GET', `/imports/${view.id}`)).toMatchObject({ processed: 5000, progress: 1 });
  });

  it('refuses a body it cannot read as CSV or NDJSON, an unknown source and an unknown import', async () => {
    const response = await upload('crm', '<xml/>', 'application/xml');
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unsupported_format');
    expect((await upload('nope', 'a\n1\n', 'text/csv')).status).toBe(404);
    expect((await t.call('GET', '/imports/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('keeps what was stored when the CSV breaks half-way, and says where', async () => {
    const csv = 'id,first_name,email\nb1,Grace,grace@example.com\nb2,"unclosed,x@example.com\n';
    const response = await upload('crm', csv, 'text/csv');
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string; details: ImportView } };
    expect(error.code).toBe('malformed_body');
    expect(error.details).toMatchObject({ status: 'failed', accepted: 1 });
  });
});

describe('aurum import', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('streams a file to a running hub with a progress bar and waits for the pipeline', async () => {
    const key = 'import-cli-key-0123456789';
    const env = {
      PATH: process.env['PATH'] ?? '',
      AURUM_API_KEYS: `ops:${key}`,
      AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-data-')),
      AURUM_CONFIG_DIR: FIXTURE,
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...SECRETS,
    };
    const { url } = await startCli(env, children);
    const dir = mkdtempSync(path.join(tmpdir(), 'aurum-import-'));
    const file = path.join(dir, 'contacts.ndjson');
    writeFileSync(file, `${JSON.stringify({ id: 'k1', first_name: 'Katherine', last_name: 'Johnson', email: 'kj@example.com' })}\n`);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      CLI,
      'import',
      '--source',
      'crm',
      file,
      '--url',
      url,
      '--key',
      key,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ accepted: 1, processed: 1, progress: 1 });
    expect(stderr).toMatch(/upload\s+\[/);
  });

  it('says what came back when the answer is not the hub’s JSON (a proxy page, a cut connection)', async () => {
    const proxy = createServer((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'aurum-import-')), 'one.ndjson');
    writeFileSync(file, '{"id":"p1"}\n');
    try {
      const failed = await promisify(execFile)(process.execPath, [
        CLI,
        'import',
        '--source',
        'crm',
        file,
        '--url',
        `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        '--key',
        'k',
        '--no-progress',
      ]).catch((e: { code: number; stderr: string }) => e);
      expect(failed).toMatchObject({
        code: 1,
        stderr: expect.stringContaining('aurum: the hub answered 502 Bad Gateway: <h1>502 Bad Gateway</h1>'),
      });
    } finally {
      proxy.close();
    }
  });

  it('says which URL it could not reach and why, and how to point it elsewhere, when no hub listens', async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'aurum-import-')), 'one.ndjson');
    writeFileSync(file, '{"id":"p1"}\n');
    const failed = await promisify(execFile)(process.execPath, [
      CLI,
      'import',
      '--source',
      'crm',
      file,
      '--url',
      `http://127.0.0.1:${port}`,
      '--key',
      'secret-key-not-shown',
      '--no-progress',
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    const { stderr } = failed as { stderr: string };
    expect(stderr).toContain(`cannot reach the hub at http://127.0.0.1:${port} (ECONNREFUSED, connection refused`);
    expect(stderr).toContain('--url or AURUM_URL');
    expect(stderr).not.toContain('fetch failed');
    expect(stderr).not.toContain('secret-key-not-shown');
  });

  it('serves imports without a total request time limit, but cuts off a silent sender', async () => {
    const server = serveHub({ fetch: () => new Response('ok') }, 0);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      expect(server.requestTimeout).toBe(0);
      expect(server.timeout).toBe(IDLE_TIMEOUT_MS);
    } finally {
      server.close();
    }
  });
});
