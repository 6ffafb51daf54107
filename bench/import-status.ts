/**
 * `GET /imports/:id` with a large quarantine: an import of 320k records, 313k of them with an open
 * quarantine entry, beside another source's 200k records and their entries. Times the quarantine
 * count the route used to run (every open entry of the import, distinct) and the bounded one it runs
 * now (the import's raw id range, stopped at QUARANTINE_COUNT_CAP), and prints both plans.
 *
 *   DATABASE_URL=postgres://… node bench/import-status.ts [--records 320000]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { openDatabase, rowsOf } from '../src/db/database.ts';
import { loadImport, QUARANTINE_COUNT_CAP } from '../src/intake/imports-store.ts';
import { countQuarantinedOfImport } from '../src/mapping/quarantine-store.ts';
import { freshDatabase } from './fresh-database.ts';

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '320000' } } });
const records = Number(args.records);
const fresh = await freshDatabase(process.env['DATABASE_URL']);
if (!fresh.url) throw new Error('set DATABASE_URL: the plans that matter are PostgreSQL’s');
const database = await openDatabase({ databaseUrl: fresh.url, dataDir: 'unused', max: 2 });
const db = database.db;
try {
  const id = randomUUID();
  const other = randomUUID();
  await db.execute(sql`insert into imports (id, source, format, status, created_by) values (${id}, 'crm', 'ndjson', 'received', 'bench')`);
  // Another source's records before and after: the quarantine holds more than this import's entries.
  const insertRaws = (intake: string, source: string, n: number) =>
    db.execute(sql`
      insert into raw_records (source, intake_id, body_hash, content_hash, payload)
      select ${source}, ${intake}::uuid, 'b', md5(${intake} || g::text), jsonb_build_object('id', g)
      from generate_series(1, ${n}) g`);
  await insertRaws(other, 'shop', 100_000);
  await insertRaws(id, 'crm', records);
  await insertRaws(other, 'shop', 100_000);
  const quarantined = Math.round(records * (313 / 320));
  await db.execute(sql`
    insert into quarantine (raw_id, source, mapping_file, code, message)
    select r.id, r.source, 'm.yaml', 'invalid_email', 'the email is not valid'
    from raw_records r where r.intake_id = ${id}::uuid order by r.id limit ${quarantined}`);
  await db.execute(sql`
    insert into quarantine (raw_id, source, mapping_file, code, message)
    select r.id, r.source, 'm.yaml', 'invalid_email', 'the email is not valid' from raw_records r where r.intake_id = ${other}::uuid`);
  await db.execute(sql`
    update imports set accepted = ${records}, processed = ${records},
      first_raw_id = (select min(id) from raw_records where intake_id = ${id}::uuid),
      last_raw_id = (select max(id) from raw_records where intake_id = ${id}::uuid)
    where id = ${id}`);
  await db.execute(sql`analyze`);

  const plan = async (query: ReturnType<typeof sql>) =>
    rowsOf<{ 'QUERY PLAN': string }>(await db.execute(sql`explain (analyze, costs off, timing off, summary on) ${query}`))
      .map((r) => r['QUERY PLAN'])
      .join('\n');
  const before = sql`
    select count(distinct q.raw_id) as n from quarantine q join raw_records r on r.id = q.raw_id
    where r.intake_id = ${id} and q.status = 'open'`;
  console.log(`open quarantine entries: ${quarantined + 200_000} (${quarantined} of the import's ${records} records)\n`);
  console.log(`before (every entry, distinct):\n${await plan(before)}\n`);
  const started = performance.now();
  const view = await loadImport(db, id, (imp) => countQuarantinedOfImport(db, imp));
  const ms = performance.now() - started;
  const [range] = rowsOf<{ first_raw_id: number; last_raw_id: number }>(
    await db.execute(sql`select first_raw_id, last_raw_id from imports where id = ${id}`),
  );
  const after = sql`
    select count(*) as n from (
      select distinct q.raw_id from quarantine q join raw_records r on r.id = q.raw_id
      where q.raw_id between ${range?.first_raw_id} and ${range?.last_raw_id} and q.status = 'open'
        and r.id between ${range?.first_raw_id} and ${range?.last_raw_id} and r.intake_id = ${id}
      limit ${QUARANTINE_COUNT_CAP + 1}) capped`;
  console.log(`after (the import's id range, up to the cap):\n${await plan(after)}\n`);
  console.log(
    `GET /imports/:id's read: ${ms.toFixed(1)} ms, quarantined ${view?.quarantined} (capped: ${view?.quarantinedCapped}), status ${view?.status}`,
  );
} finally {
  await database.close();
  await fresh.drop();
}
