import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { copyWorkspace, startSharedHubs, type TestHub } from './helpers/hub.ts';

/**
 * Several hubs (on PostgreSQL: several pg-boss instances and connection pools, as several
 * processes would have) work one database with parallel workers, one record per job.
 */
const HUBS = 3;
let hubs: TestHub[] = [];
let stopHubs = async () => {};
beforeAll(async () => {
  const env = { AURUM_INGEST_BATCH_SIZE: '1', AURUM_WORKER_CONCURRENCY: '4' };
  // The chain below is one person with 30 emails and 30 phones: above the default guard limits.
  const configDir = copyWorkspace();
  writeFileSync(path.join(configDir, 'identity.yaml'), 'guards:\n  maxPerProfile: { emails: 100, phones: 100 }\n');
  ({ hubs, stop: stopHubs } = await startSharedHubs(HUBS, { env, configDir }));
});
afterAll(() => stopHubs());

async function profilesHolding(prefix: string) {
  const db = hubs[0]!.testDb.database.db;
  return rowsOf<{ profile_id: string; members: string | number }>(
    await db.execute(sql`
      select profile_id, count(*) as members from source_records
      where record_id like ${`${prefix}%`} group by profile_id`),
  );
}

describe('parallel workers', () => {
  it('never split one person into two profiles when a chain of records arrives at once', async () => {
    // Record i shares an email with record i-1 and a phone with record i+1, and all one name: one
    // person, 60 records. (The name alone links none of them; with an email or a phone it does.)
    const records = Array.from({ length: 60 }, (_, i) => ({
      id: `chain-${i}`,
      first_name: 'Chana',
      last_name: 'Chainworth',
      email: `chain${Math.floor(i / 2)}@example.com`,
      phone: `+44 20 7946 ${String(1000 + Math.floor((i + 1) / 2)).padStart(4, '0')}`,
    }));
    // Sent in reverse and interleaved across hubs, so links are discovered in the worst order.
    await Promise.all(records.reverse().map((r, i) => hubs[i % HUBS]!.postWebhook('crm', JSON.stringify(r))));
    await hubs[0]!.settle();
    const profiles = await profilesHolding('chain-');
    expect(profiles).toHaveLength(1);
    expect(Number(profiles[0]?.members)).toBe(60);
  });

  it('never split records that share one email and arrive at once', async () => {
    const records = Array.from({ length: 40 }, (_, i) => ({ id: `star-${i}`, email: 'star@example.com' }));
    await Promise.all(records.map((r, i) => hubs[i % HUBS]!.postWebhook('crm', JSON.stringify(r))));
    await hubs[0]!.settle();
    const profiles = await profilesHolding('star-');
    expect(profiles).toHaveLength(1);
    expect(Number(profiles[0]?.members)).toBe(40);
  });

  it('leave every retired profile pointing at a live survivor', async () => {
    const db = hubs[0]!.testDb.database.db;
    const dangling = rowsOf(
      await db.execute(sql`
        select r.id from profiles r join profiles s on s.id = r.merged_into
        where s.merged_into is not null`),
    );
    expect(dangling).toHaveLength(0);
    const orphans = rowsOf(
      await db.execute(sql`select sr.id from source_records sr join profiles p on p.id = sr.profile_id where p.merged_into is not null`),
    );
    expect(orphans).toHaveLength(0);
  });
});
