/**
 * Delivery under crashes and races: a send interrupted by a hub that stopped without grace is sent
 * again by the next hub, with the same X-Aurum-Delivery id; and a withdrawal of consent, once
 * linked, stops every body of that person for the purpose, however many sends are in flight.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';

interface Arrival {
  path: string;
  delivery: string;
  event: string;
  json: any;
  /** When the body was complete at the receiver (Date.now(), one clock for every thread). */
  at: number;
}

/** A receiver that can leave a request unanswered, as a hung downstream tool would. */
async function startRecorder(hang: (path: string) => boolean) {
  const arrivals: Arrival[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      if (hang(path)) {
        hanging.push(res);
        return;
      }
      arrivals.push({
        path,
        delivery: String(req.headers['x-aurum-delivery']),
        event: String(req.headers['x-aurum-event']),
        json: JSON.parse(body),
        at,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    arrivals,
    hanging,
    url: (path: string) => `${base}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The same receiver on a thread of its own, for timing: it stamps each body when it is complete
 * there, however busy this thread (and, on PGlite, the hub's database in it) is at that moment.
 * A receiver on this thread would notice a body that left before a withdrawal committed only
 * once this thread got round to it, which may be after the poller saw the withdrawal.
 */
async function startTimedRecorder(answerAfterMs: number) {
  const worker = new Worker(
    `const { createServer } = require('node:http');
    const { parentPort, workerData } = require('node:worker_threads');
    const server = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const at = Date.now();
        parentPort.postMessage({ arrival: { path: req.url ?? '/', delivery: String(req.headers['x-aurum-delivery']),
          event: String(req.headers['x-aurum-event']), body: Buffer.concat(chunks).toString('utf8'), at } });
        setTimeout(() => res.writeHead(204).end(), workerData.answerAfterMs);
      });
    });
    server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
    parentPort.on('message', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });`,
    { eval: true, workerData: { answerAfterMs } },
  );
  const arrivals: Arrival[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (m: { port?: number; arrival?: Omit<Arrival, 'json'> & { body: string } }) => {
      if (m.port !== undefined) resolve(m.port);
      if (m.arrival) {
        const { body, ...rest } = m.arrival;
        arrivals.push({ ...rest, json: JSON.parse(body) });
      }
    });
  });
  return {
    arrivals,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('close');
      }),
  };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

async function deliveriesOf(t: TestHub, destinationId: string) {
  return (await t.json<{ deliveries: Record<string, any>[] }>('GET', `/destinations/${destinationId}/deliveries`)).deliveries;
}

describe('a send interrupted by a hub that died', () => {
  it('is sent again by the next hub, with the same X-Aurum-Delivery id, and never marked done unsent', { timeout: 90_000 }, async () => {
    let hangFirst = true;
    const receiver = await startRecorder((path) => path === '/crash' && hangFirst);
    cleanup.push(() => receiver.close());
    const first = await startTestHub();
    cleanup.push(() => first.stop());
    const destination = await first.json<{ id: string }>('POST', '/destinations', { url: receiver.url('/crash'), timeoutMs: 120_000 });
    expect((await first.postWebhook('crm', JSON.stringify({ id: 'ic-1', email: 'ic1@example.com', first_name: 'Ines' }))).status).toBe(202);

    // The body reached the receiver, which never answers: the delivery is in `sending`.
    await waitFor(async () => receiver.hanging.length === 1);
    const [inFlight] = await deliveriesOf(first, destination.id);
    expect(inFlight).toMatchObject({ status: 'sending', attempts: [] });
    hangFirst = false;

    // The hub stops without grace, as a crash would leave things: its delivery job is handed back
    // to the queue for a retry, the delivery still in `sending`. A second hub takes over.
    await first.hub.boss.stop({ graceful: false, close: false });
    const second = await startTestHub({ shareDatabase: first.testDb });
    cleanup.push(() => second.stop());

    await waitFor(async () => receiver.arrivals.length === 1, 60_000);
    expect(receiver.arrivals[0]).toMatchObject({ delivery: inFlight?.['id'], event: 'profile.updated' });
    expect(receiver.arrivals[0]?.json.profile.emails).toEqual(['ic1@example.com']);
    // The receiver records the body before it answers: the hub records the 204 just after.
    await waitFor(async () => (await deliveriesOf(second, destination.id))[0]?.['status'] !== 'sending', 30_000);
    const [delivered] = await deliveriesOf(second, destination.id);
    expect(delivered).toMatchObject({ id: inFlight?.['id'], status: 'delivered' });
    expect(delivered?.['attempts']).toMatchObject([
      { attempt: 1, statusCode: null, error: expect.stringContaining('interrupted') },
      { attempt: 2, statusCode: 204, error: null },
    ]);
    await second.settle();
    expect(receiver.arrivals).toHaveLength(1);
  });
});

describe('consent under concurrency', () => {
  it('sends no granted body of a person for the purpose once their withdrawal is linked, with many sends in flight', {
    timeout: 120_000,
  }, async () => {
    const receiver = await startTimedRecorder(40);
    cleanup.push(() => receiver.close());
    const t = await startTestHub();
    cleanup.push(() => t.stop());
    await t.json('POST', '/destinations', { url: receiver.url('/marketing'), purposes: ['marketing'] });
    const people = Array.from({ length: 12 }, (_, i) => i);
    const crm = (record: Record<string, unknown>) => t.postWebhook('crm', JSON.stringify(record));

    for (const i of people) {
      const granted = { id: `cr-${i}`, email: `race${i}@example.com`, marketing_opt_in: true, updated_at: '2025-01-01T00:00:00Z' };
      expect((await crm(granted)).status).toBe(202);
    }
    await waitFor(async () => new Set(receiver.arrivals.map((a) => a.json.profile?.emails?.[0])).size === people.length, 60_000);

    // When each withdrawal's ledger entry was first seen committed: the latest its link can have committed.
    const withdrawn = people.filter((i) => i % 2 === 0);
    const linkedAt = new Map<string, number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const rows = rowsOf<{ record_id: string }>(
          await t.testDb.database.db.execute(sql`
            select record_id from consent_entries where source = 'crm' and status = 'denied'
              and record_id = any(${sql.param(withdrawn.map((i) => `cr-${i}`))}::text[])`),
        );
        const seen = Date.now();
        for (const r of rows) if (!linkedAt.has(r.record_id)) linkedAt.set(r.record_id, seen);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    // Every person changes again and again (new records linked by email, each a new golden version
    // and a new delivery, answered slowly so that some are always queued) while half of them
    // withdraw, in the middle of it.
    const wave = (k: number) => people.map((i) => crm({ id: `cr-${i}-u${k}`, email: `race${i}@example.com`, first_name: `Name${k}` }));
    const requests: Promise<Response>[] = [];
    for (let k = 0; k < 10; k++) {
      if (k === 5) {
        for (const i of withdrawn) {
          requests.push(crm({ id: `cr-${i}`, email: `race${i}@example.com`, marketing_opt_in: false, updated_at: '2025-02-01T00:00:00Z' }));
        }
      }
      requests.push(...wave(k));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    for (const response of await Promise.all(requests)) expect(response.status).toBe(202);
    await t.settle();
    polling = false;
    await poller;

    expect(linkedAt.size).toBe(withdrawn.length);
    for (const i of withdrawn) {
      const email = `race${i}@example.com`;
      const profileId = receiver.arrivals.find((a) => a.json.profile?.emails?.includes(email))?.json.profile.id;
      const linked = linkedAt.get(`cr-${i}`) as number;
      // Every body carrying the profile says marketing is granted (the destination gets no other).
      const carrying = receiver.arrivals.filter((a) => a.json.profile?.id === profileId);
      for (const a of carrying)
        expect(a.json.profile.consent).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'granted' }));
      const late = carrying.filter((a) => a.at > linked).map((a) => ({ event: a.event, msAfterLink: a.at - linked }));
      expect(late, email).toEqual([]);
      // The destination was told, once, without personal data.
      expect(receiver.arrivals.filter((a) => a.event === 'profile.suppressed' && a.json.id === profileId)).toHaveLength(1);
    }
    // The others kept receiving their changes.
    for (const i of people.filter((p) => !withdrawn.includes(p))) {
      expect(receiver.arrivals.some((a) => a.json.profile?.emails?.includes(`race${i}@example.com`) && a.json.profile.name?.given)).toBe(
        true,
      );
    }
  });
});
