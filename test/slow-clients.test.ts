/**
 * The HTTP server against slow clients, over real sockets to a real `aurum start`: a webhook must
 * arrive within AURUM_WEBHOOK_TIMEOUT_MS, a file import may stream for as long as it needs, the
 * connections are capped with room left for /health, and the server binds AURUM_HOST.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli.ts';
import { copyWorkspace, SECRETS, waitFor } from './helpers/hub.ts';

const KEY = 'slow-clients-admin-key-0123';
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

const env = (extra: Record<string, string>) => ({
  PATH: process.env['PATH'] ?? '',
  AURUM_API_KEYS: `admin:${KEY}`,
  AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-slow-')),
  AURUM_CONFIG_DIR: copyWorkspace(),
  ...SECRETS,
  PORT: '0',
  ...extra,
});

/** A raw connection: what it has received so far, and a promise of its close. */
function connect(port: number, host = '127.0.0.1') {
  const socket = net.connect(port, host);
  const state = { received: '', error: undefined as Error | undefined };
  socket.on('data', (chunk: Buffer) => (state.received += chunk));
  socket.on('error', (error) => (state.error = error));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, state, closed, opened };
}

/** Writes one byte of `text` at a time, one every `everyMs`, until the text or the socket ends. */
async function trickle(socket: net.Socket, text: string, everyMs: number): Promise<void> {
  for (const char of text) {
    if (socket.destroyed) return;
    socket.write(char);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const webhookHead = (length: number) =>
  `POST /webhooks/crm HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
  `X-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`;

describe('a hub with a 1 s webhook limit and 4 connections at most', () => {
  let port = 0;
  let logs = '';
  beforeAll(async () => {
    const hub = await startCli(env({ AURUM_WEBHOOK_TIMEOUT_MS: '1000', AURUM_MAX_CONNECTIONS: '4', LOG_LEVEL: 'debug' }), children);
    hub.child.stderr?.on('data', (chunk: Buffer) => (logs += chunk));
    port = Number(new URL(hub.url).port);
  });

  it('cuts off a webhook whose body trickles in for longer than AURUM_WEBHOOK_TIMEOUT_MS, answering 408', async () => {
    const client = connect(port);
    await client.opened;
    const body = JSON.stringify({ id: 1, email: 'slow@example.com', padding: 'x'.repeat(200) });
    client.socket.write(webhookHead(Buffer.byteLength(body)));
    // One byte each 100 ms would take over 20 s: the server closes the connection long before.
    await Promise.race([trickle(client.socket, body, 100), client.closed]);
    await client.closed;
    expect(client.state.received).toMatch(/^HTTP\/1\.1 408/);
    expect(client.state.received).toContain('"code":"request_timeout"');
  });

  it('logs a client that goes away mid-request at debug level, never as an error', async () => {
    const client = connect(port);
    await client.opened;
    client.socket.write(`${webhookHead(100)}{"id":`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.socket.destroy();
    await waitFor(async () => (logs.match(/client went away/g) ?? []).length >= 2, 10_000);
    const lines = logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.filter((l) => l.msg === 'client went away before the answer').every((l) => l.level === 20)).toBe(true);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('keeps streaming a file import for longer than the webhook limit', async () => {
    const client = connect(port);
    await client.opened;
    const lines = [1, 2, 3, 4, 5].map((id) => `${JSON.stringify({ id, email: `import-${id}@example.com` })}\n`);
    const body = lines.join('');
    client.socket.write(
      `POST /sources/crm/import?format=ndjson HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${KEY}\r\n` +
        `Content-Type: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
    );
    // A line each 500 ms: 2.5 s in all, well past the 1 s a webhook gets.
    for (const line of lines) {
      client.socket.write(line);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await client.closed;
    expect(client.state.received).toMatch(/^HTTP\/1\.1 202/);
    expect(client.state.received).toContain('"accepted":5');
  });

  it('answers /health while slow clients hold every connection, and refuses anything else with 503', async () => {
    // Imports have no total time limit, so these four hold their connections for the whole test.
    // `Expect: 100-continue` tells each one that the server has its request and has counted it.
    const holders = [1, 2, 3, 4].map(() => connect(port));
    for (const holder of holders) {
      await holder.opened;
      holder.socket.write(
        `POST /sources/crm/import?format=ndjson HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${KEY}\r\n` +
          'Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
      );
      await waitFor(async () => holder.state.received.includes('100 Continue'), 10_000);
    }
    try {
      const health = connect(port);
      await health.opened;
      health.socket.write('GET /health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n');
      await health.closed;
      expect(health.state.received).toMatch(/^HTTP\/1\.1 200/);
      expect(health.state.received).toContain('"status":"ok"');

      const refused = connect(port);
      await refused.opened;
      refused.socket.write(`${webhookHead(2)}{}`);
      await refused.closed;
      expect(refused.state.received).toMatch(/^HTTP\/1\.1 503/);
      expect(refused.state.received).toContain('"code":"too_many_connections"');
    } finally {
      for (const holder of holders) holder.socket.destroy();
    }
  });

  // After the connection-cap test: fetch keeps its connections open, and the cap is 4.
  it('answers an error found after the body was read, instead of leaving the client waiting', async () => {
    const base = `http://127.0.0.1:${port}`;
    const badSignature = await fetch(`${base}/webhooks/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body: '{"id":"x"}',
      signal: AbortSignal.timeout(5000),
    });
    expect(badSignature.status).toBe(401);
    const reserved = await fetch(`${base}/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'aurum', role: 'reader' }),
      signal: AbortSignal.timeout(5000),
    });
    expect(reserved.status).toBe(400);
    expect(((await reserved.json()) as { error: { code: string } }).error.code).toBe('key_name_reserved');
  });

  it('binds loopback only by default (AURUM_HOST=127.0.0.1)', async () => {
    const other = connect(port, '127.0.0.2');
    await expect(other.opened).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('AURUM_HOST=0.0.0.0', () => {
  it('binds every interface', async () => {
    const hub = await startCli(env({ AURUM_HOST: '0.0.0.0', LOG_LEVEL: 'warn' }), children);
    const port = Number(new URL(hub.url).port);
    const other = connect(port, '127.0.0.2');
    await other.opened;
    other.socket.write('GET /health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n');
    await other.closed;
    expect(other.state.received).toMatch(/^HTTP\/1\.1 200/);
  });
});
