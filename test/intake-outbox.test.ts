/**
 * A webhook's records and their place in the ingest queue are written by one statement, into
 * `intake_outbox`; a dispatcher in every hub process hands them to pg-boss. What was stored is
 * processed even when the process that stored it died before its dispatcher ran.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { IntakeDispatcher } from '../src/intake/dispatch.ts';
import { RawStore } from '../src/intake/store.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

const linked = async (recordId: string) =>
  rowsOf<{ profile_id: string | null }>(
    await t.testDb.database.db.execute(sql`select profile_id::text from source_records where source = 'crm' and record_id = ${recordId}`),
  )[0]?.profile_id ?? null;

describe('the intake outbox', () => {
  it('hands over the intakes of a process that stored them and died before its dispatcher woke', { timeout: 30_000 }, async () => {
    // A store whose process never wakes a dispatcher: its commit is all that is left of it.
    const dead = new RawStore({ ...t.hub.ctx, intakeQueued: () => {} });
    const intake = (id: string) => ({ source: 'crm', records: [{ id, email: `${id}@example.com`, first_name: 'Ola' }], bodyHash: 'test' });
    await Promise.all([dead.store(intake('ob-1')), dead.store(intake('ob-2'))]);
    await waitFor(async () => (await linked('ob-1')) !== null && (await linked('ob-2')) !== null);
    expect(await t.count('intake_outbox')).toBe(0);
  });

  it('queues each intake once, however many dispatchers take rounds at the same time', { timeout: 30_000 }, async () => {
    const quiet = new RawStore({ ...t.hub.ctx, intakeQueued: () => {} });
    const ids = Array.from({ length: 40 }, (_, i) => `ob-many-${i}`);
    await Promise.all(ids.map((id) => quiet.store({ source: 'crm', records: [{ id, email: `${id}@example.com` }], bodyHash: 'test' })));
    // Rounds of other processes, side by side with this hub's own.
    const others = [new IntakeDispatcher(t.hub.ctx), new IntakeDispatcher(t.hub.ctx), new IntakeDispatcher(t.hub.ctx)];
    await Promise.all(others.map((d) => d.dispatch()));
    await waitFor(async () => (await t.count('intake_outbox')) === 0);
    const [named] = rowsOf<{ n: string | number }>(
      await t.testDb.database.db.execute(sql`
        select count(*) as n from pgboss.job j, jsonb_array_elements_text(j.data->'intakeIds') as intake(id)
        join raw_records r on r.intake_id = intake.id::uuid
        where j.name = 'aurum-ingest' and r.payload->>'id' like 'ob-many-%'`),
    );
    expect(Number(named?.n)).toBe(ids.length);
    await t.settle();
    for (const id of ids) expect(await linked(id)).not.toBeNull();
  });
});
