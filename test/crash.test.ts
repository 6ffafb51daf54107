/**
 * A hub killed (SIGKILL) in the middle of 10,000 signed webhooks, then started again on the same
 * PostgreSQL database. Within the supervise interval plus 30 s of the last webhook, every accepted
 * record is in exactly one active profile with the records it belongs with, each merge happened once
 * and no job is stuck; every delivery is then sent (none lost), and none is sent against a
 * withdrawal. PostgreSQL only: it is what several processes share.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { startCli } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from './helpers/database.ts';
import { waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

const ADMIN = 'crash-admin-key-0123456789';
const SECRET = 'crash-crm-secret-0123456789';
const SUPERVISE_SECONDS = 2;
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-02-01T00:00:00Z';

const PEOPLE = 7000;
const DUPLICATES = 2500; // dup-j: another record of person j (same email)
// bridge-k: the name of person 3000+2k, its email and the phone of person 3001+2k, who is the same
// person under another email and phone: it merges them. (A shared phone alone would not.)
const BRIDGES = 250;
const WITHDRAWN = { from: 5000, to: 5500 }; // these people withdraw marketing consent later

const phoneOf = (i: number) => `+4420${String(7_000_000 + i).padStart(8, '0')}`;
/** Persons 3001+2k carry the name of 3000+2k: two records of one person, until a bridge joins them. */
const nameOf = (i: number) => (i >= 3000 && i < 3000 + 2 * BRIDGES && (i - 3000) % 2 === 1 ? i - 1 : i);
const person = (i: number, optIn = true, updatedAt = T0) => ({
  id: `p-${i}`,
  email: `person${i}@example.com`,
  phone: phoneOf(i),
  first_name: `Given${nameOf(i)}`,
  last_name: `Family${nameOf(i)}`,
  marketing_opt_in: optIn,
  updated_at: updatedAt,
});

/** Every webhook of the run, in a fixed shuffled order; a withdrawal follows its person's record. */
function webhooks(): string[] {
  const bodies: object[] = [];
  for (let i = 0; i < PEOPLE; i++) bodies.push(person(i));
  for (let j = 0; j < DUPLICATES; j++) bodies.push({ ...person(j), id: `dup-${j}`, phone: undefined });
  for (let k = 0; k < BRIDGES; k++) {
    bodies.push({
      id: `bridge-${k}`,
      email: `person${3000 + 2 * k}@example.com`,
      phone: phoneOf(3001 + 2 * k),
      first_name: `Given${3000 + 2 * k}`,
      last_name: `Family${3000 + 2 * k}`,
      updated_at: T0,
    });
  }
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = bodies.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [bodies[i], bodies[j]] = [bodies[j] as object, bodies[i] as object];
  }
  const out = bodies.map((b) => JSON.stringify(b));
  for (let i = WITHDRAWN.from; i < WITHDRAWN.to; i++) {
    const at = out.indexOf(JSON.stringify(person(i)));
    out.splice(Math.min(at + 300, out.length), 0, JSON.stringify(person(i, false, T1)));
  }
  return out;
}

const children: ChildProcess[] = [];
let testDb: TestDatabase | undefined;
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await testDb?.drop();
});

describe.skipIf(!testDatabaseUrl)('a hub killed mid-load and started again', () => {
  it('loses nothing, merges once, leaves no job stuck, sends every delivery and none against a withdrawal', {
    timeout: 300_000,
  }, async () => {
    testDb = await createTestDatabase();
    const db = testDb.database.db;
    const rows = async <T>(query: ReturnType<typeof sql>) => rowsOf<T>(await db.execute(query));
    const receiver = await startReceiver();

    const configDir = mkdtempSync(path.join(tmpdir(), 'aurum-crash-ws-'));
    mkdirSync(path.join(configDir, 'connectors'));
    mkdirSync(path.join(configDir, 'mappings'));
    writeFileSync(path.join(configDir, 'connectors', 'crm.yaml'), 'type: webhook\nsecret: ${CRM_SECRET}\n');
    writeFileSync(
      path.join(configDir, 'mappings', 'crm-contact.yaml'),
      `source: crm
object: contact
recordId: id
updatedAt: updated_at
profile: |
  {
    "name": { "given": first_name, "family": last_name },
    "emails": [email],
    "phones": [phone],
    "consent": marketing_opt_in != null ? [{ "purpose": "marketing", "status": marketing_opt_in ? "granted" : "denied", "at": updated_at }]
  }
`,
    );
    // No model: emails and phones link outright, so which records belong together is known exactly.
    writeFileSync(path.join(configDir, 'identity.yaml'), 'training:\n  minRecords: 100000000\n');
    const env = {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: testDb.url as string,
      AURUM_API_KEYS: `admin:${ADMIN}`,
      AURUM_CONFIG_DIR: configDir,
      AURUM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'aurum-crash-data-')),
      AURUM_SUPERVISE_INTERVAL: String(SUPERVISE_SECONDS),
      AURUM_ALLOW_PRIVATE_DESTINATIONS: 'true',
      AURUM_DEFAULT_REGION: 'GB',
      CRM_SECRET: SECRET,
      PORT: '0',
      LOG_LEVEL: 'warn',
    };

    let hub = await startCli(env, children);
    const created = await fetch(`${hub.url}/destinations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url('/marketing'), purposes: ['marketing'] }),
    });
    expect(created.status).toBe(201);
    receiver.trust('/marketing', ((await created.json()) as { secret: string }).secret);

    const queue = webhooks();
    const signed = await Promise.all(queue.map(async (body) => ({ body, signature: await sign(SECRET, body) })));
    let next = 0;
    let accepted = 0;
    const refused: string[] = [];
    let killed = false;
    let restarted: Promise<void> | undefined;
    const restart = async () => {
      hub.child.kill('SIGKILL');
      await new Promise((resolve) => hub.child.once('exit', resolve));
      hub = await startCli(env, children);
    };
    const post = async (item: { body: string; signature: string }) => {
      for (;;) {
        if (restarted !== undefined) await restarted;
        try {
          const response = await fetch(`${hub.url}/webhooks/crm`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': item.signature },
            body: item.body,
          });
          // A sender retries what got no answer; a body stored before the crash is then a replay.
          if (response.status === 202 || response.status === 409) return;
          refused.push(`${response.status} ${await response.text()}`);
          return;
        } catch {
          // The hub died with this request in flight: send it again, as a vendor would.
        }
      }
    };
    const sender = async () => {
      while (next < signed.length) {
        const item = signed[next++] as { body: string; signature: string };
        await post(item);
        accepted++;
        if (!killed && accepted >= 4000) {
          killed = true;
          restarted = restart();
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, sender));
    expect(refused).toEqual([]);
    expect(killed).toBe(true);

    // Within the supervise interval plus 30 s of the last webhook: every record linked, no job stuck.
    const ids = [
      ...Array.from({ length: PEOPLE }, (_, i) => `p-${i}`),
      ...Array.from({ length: DUPLICATES }, (_, j) => `dup-${j}`),
      ...Array.from({ length: BRIDGES }, (_, k) => `bridge-${k}`),
    ];
    await waitFor(
      async () => {
        const [linked] = await rows<{ n: string }>(sql`select count(*) as n from source_records`);
        const [pending] = await rows<{ n: string }>(sql`
        select count(*) as n from pgboss.job where name in ('aurum-ingest', 'aurum-golden') and state in ('created', 'retry', 'active')`);
        return Number(linked?.n) === ids.length && Number(pending?.n) === 0;
      },
      (SUPERVISE_SECONDS + 30) * 1000,
    );

    const profileOf = new Map(
      (
        await rows<{ record_id: string; profile_id: string; merged_into: string | null }>(sql`
          select sr.record_id, sr.profile_id, p.merged_into from source_records sr join profiles p on p.id = sr.profile_id`)
      ).map((r) => {
        expect(r.merged_into).toBeNull();
        return [r.record_id, r.profile_id] as const;
      }),
    );
    expect(profileOf.size).toBe(ids.length);
    for (let j = 0; j < DUPLICATES; j++) expect(profileOf.get(`dup-${j}`)).toBe(profileOf.get(`p-${j}`));
    for (let k = 0; k < BRIDGES; k++) {
      expect(profileOf.get(`bridge-${k}`)).toBe(profileOf.get(`p-${3000 + 2 * k}`));
      expect(profileOf.get(`bridge-${k}`)).toBe(profileOf.get(`p-${3001 + 2 * k}`));
    }
    expect(new Set(profileOf.values()).size).toBe(PEOPLE - BRIDGES);
    const retired = (await rows<{ id: string }>(sql`select unnest(retired_ids) as id from profile_merges where kind = 'link'`)).map(
      (r) => r.id,
    );
    expect(retired.length).toBeLessThanOrEqual(BRIDGES);
    expect(new Set(retired).size).toBe(retired.length);

    // Then every delivery is sent, the interrupted ones again, and none fails.
    await waitFor(async () => {
      const [open] = await rows<{ n: string }>(sql`
        select count(*) as n from pgboss.job where name like 'aurum-%' and state in ('created', 'retry', 'active')`);
      const [live] = await rows<{ n: string }>(sql`
        select count(*) as n from deliveries where status in ('pending', 'sending', 'retrying')`);
      return Number(open?.n) === 0 && Number(live?.n) === 0;
    }, 180_000);
    const [failedJobs] = await rows<{ n: string }>(
      sql`select count(*) as n from pgboss.job where name like 'aurum-%' and state = 'failed'`,
    );
    expect(Number(failedJobs?.n)).toBe(0);
    const deliveries = await rows<{ id: string; status: string }>(sql`select id::text, status from deliveries`);
    expect(deliveries.filter((d) => d.status === 'failed')).toEqual([]);
    const received = new Set(receiver.received.map((r) => String(r.headers['x-aurum-delivery'])));
    for (const d of deliveries.filter((d) => d.status === 'delivered')) expect(received.has(d.id)).toBe(true);

    // Consent: once a withdrawn person's suppression was received, nothing of theirs followed (a
    // delivery sent again after the crash carries its first id: receivers deduplicate on it).
    for (let i = WITHDRAWN.from; i < WITHDRAWN.to; i++) {
      const profileId = profileOf.get(`p-${i}`);
      const seen = new Set<string>();
      const events = receiver.received
        .filter((r) => r.json.id === profileId || r.json.profile?.id === profileId)
        .filter((r) => {
          const id = String(r.headers['x-aurum-delivery']);
          return seen.has(id) ? false : Boolean(seen.add(id));
        })
        .map((r) => r.json.event as string);
      const suppressedAt = events.indexOf('profile.suppressed');
      if (suppressedAt >= 0)
        expect(
          events.slice(suppressedAt).filter((e) => e !== 'profile.suppressed'),
          `person ${i}: ${events.join(', ')}`,
        ).toEqual([]);
      else expect(events, `person ${i}`).toEqual([]);
    }
    await receiver.close();
  });
});
