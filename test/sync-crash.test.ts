/**
 * A sync killed mid-way: the hub process is killed (SIGKILL) while it waits for the third page of
 * a Stripe customer list. A new process releases the dead run and resumes from the cursor saved
 * with the last page stored: nothing is fetched or stored twice.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli.ts';
import { waitFor } from './helpers/hub.ts';

const KEY = 'sk_test_crash_0123456789';
const ADMIN = 'crash-test-key-0123456789';
const customers = Array.from({ length: 6 }, (_, i) => ({
  id: `cus_${i + 1}`,
  object: 'customer',
  email: `crash${i + 1}@example.com`,
  name: `Crash Person${i + 1}`,
  created: 1_700_000_000 + i,
}));

const children: ChildProcess[] = [];
let vendor: Server | undefined;
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  vendor?.close();
});

describe('a sync killed mid-way', () => {
  it('resumes in a new process from the saved cursor, with no page fetched or stored twice', { timeout: 120_000 }, async () => {
    const asked: (string | null)[] = [];
    let victim: ChildProcess | undefined;
    let killed = false;
    vendor = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://stripe.local');
      const after = url.searchParams.get('starting_after');
      asked.push(after);
      if (after === 'cus_4' && !killed && victim) {
        // The process dies while the request for the third page is in flight.
        killed = true;
        victim.kill('SIGKILL');
        response.destroy();
        return;
      }
      const from = after ? customers.findIndex((c) => c.id === after) + 1 : 0;
      const data = customers.slice(from, from + 2);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ object: 'list', url: '/v1/customers', has_more: from + 2 < customers.length, data }));
    });
    await new Promise<void>((resolve) => vendor?.listen(0, '127.0.0.1', resolve));
    const api = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}`;

    const configDir = mkdtempSync(path.join(tmpdir(), 'aurum-crash-ws-'));
    mkdirSync(path.join(configDir, 'connectors'));
    mkdirSync(path.join(configDir, 'mappings'));
    writeFileSync(path.join(configDir, 'connectors', 'billing.yaml'), `type: stripe\napiKey: ${KEY}\nbaseUrl: ${api}\n`);
    const env = {
      PATH: process.env['PATH'] ?? '',
      AURUM_API_KEYS: `admin:${ADMIN}`,
      AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-crash-data-')),
      AURUM_CONFIG_DIR: configDir,
      AURUM_SUPERVISE_INTERVAL: '1',
      PORT: '0',
      LOG_LEVEL: 'warn',
    };
    const call = (url: string, method: string, route: string, body?: object) =>
      fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });

    const first = await startCli(env, children);
    victim = first.child;
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    expect((await call(first.url, 'POST', '/sources/billing/sync', { full: true })).status).toBe(202);
    await exited;

    // The embedded database's lock of the dead process goes stale after 15 s; then a new one starts.
    let second: { child: ChildProcess; url: string } | undefined;
    for (let attempt = 0; !second && attempt < 30; attempt++) {
      second = await startCli(env, children).catch(async (error: Error) => {
        if (!/another Aurum process/.test(error.message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return undefined;
      });
    }
    if (!second) throw new Error('the hub did not start again');
    // The dead run holds the source until the queue's heartbeat check releases its job.
    await waitFor(async () => (await call(second.url, 'POST', '/sources/billing/sync')).status === 202, 60_000);
    type Run = { id: number; status: string; pages: number; records: number; error: { code: string } | null };
    const runs = async () => ((await (await call(second.url, 'GET', '/sources/billing/runs')).json()) as { runs: Run[] }).runs;
    await waitFor(async () => (await runs())[0]?.status === 'succeeded', 30_000);
    const [resumed, dead] = await runs();
    expect(dead).toMatchObject({ status: 'failed', pages: 2, records: 4, error: { code: 'interrupted' } });
    expect(resumed).toMatchObject({ status: 'succeeded', pages: 1, records: 2 });
    // Pages 1 and 2 once, page 3 asked for by the dead process and again by the new one.
    expect(asked).toEqual([null, 'cus_2', 'cus_4', 'cus_4']);
  });
});
