/**
 * A destination's rateLimit holds across hub processes: the slots are taken from the database, so
 * several hubs on one database send 5/s to a destination of 5/s between them, not 5/s each.
 */
import type { ChildProcess } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { startCli } from './helpers/cli.ts';
import { testDatabaseUrl } from './helpers/database.ts';
import { ROLE_KEYS, SECRETS, startTestHub } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

const children: ChildProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

describe('rateLimit', () => {
  it('spaces the sends of every hub on the database by 1/rateLimit between them: each takes the next slot', {
    timeout: 90_000,
  }, async () => {
    const receiver = await startReceiver();
    cleanup.push(() => receiver.close());
    // Two sends of a destination at a time per hub, so that every hub has some of them in hand.
    const env = { AURUM_DELIVERY_CONCURRENCY: '2' };
    const first = await startTestHub({ env });
    cleanup.push(() => first.stop());
    const second = await startTestHub({ env, shareDatabase: first.testDb });
    cleanup.push(() => second.stop());
    if (testDatabaseUrl) {
      // On PostgreSQL a third hub runs in a process of its own, as a deployment's workers do.
      await startCli(
        {
          PATH: process.env['PATH'] ?? '',
          DATABASE_URL: first.testDb.url as string,
          AURUM_API_KEYS: `admin:${ROLE_KEYS.admin}`,
          AURUM_CONFIG_DIR: first.configDir,
          AURUM_DEFAULT_REGION: 'GB',
          AURUM_ALLOW_PRIVATE_DESTINATIONS: 'true',
          PORT: '0',
          LOG_LEVEL: 'warn',
          ...SECRETS,
          ...env,
        },
        children,
      );
    }

    const destination = await first.json<{ id: string; secret: string }>('POST', '/destinations', {
      url: receiver.url('/paced'),
      rateLimit: 5,
    });
    receiver.trust('/paced', destination.secret);
    const records = Array.from({ length: 12 }, (_, i) => ({ id: `rl-${i}`, email: `rl${i}@example.com` }));
    expect((await first.postWebhook('crm', JSON.stringify(records.slice(0, 6)))).status).toBe(202);
    expect((await second.postWebhook('crm', JSON.stringify(records.slice(6)))).status).toBe(202);
    await first.settle();
    expect(receiver.received.filter((r) => r.path === '/paced')).toHaveLength(12);

    // Each attempt's time is the slot it took: the schedule the hubs wrote, whatever the machine's speed.
    const { deliveries } = await second.json<{ deliveries: { attempts: { at: string }[] }[] }>(
      'GET',
      `/destinations/${destination.id}/deliveries`,
    );
    const slots = deliveries.flatMap((d) => d.attempts.map((a) => Date.parse(a.at))).sort((a, b) => a - b);
    expect(slots).toHaveLength(12);
    const spacing = slots.slice(1).map((slot, i) => slot - (slots[i] as number));
    expect(spacing.filter((ms) => ms < 200)).toEqual([]);
    // The destination's row holds the last slot taken: the next send's is a fifth of a second after it.
    const [row] = rowsOf<{ slot: Date | string }>(
      await first.testDb.database.db.execute(sql`select rate_slot_at as slot from destinations where id = ${destination.id}`),
    );
    expect(new Date(row?.slot as Date | string).getTime()).toBe(slots.at(-1));
  });
});
