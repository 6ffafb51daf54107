import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { copyWorkspace, startSharedHubs, type TestHub } from './helpers/hub.ts';

/**
 * Households whose records overlap everywhere (one email, one phone and one surname for four
 * people: a couple and their twins) arrive all at once through three hubs sharing one database, as
 * three worker processes would, in small batches and small linking transactions so that many run
 * side by side and meet on the same keys and profiles.
 */
const HUBS = 3;
const HOUSEHOLDS = 20;
const SURNAMES = [
  'Ashworth',
  'Blackwood',
  'Carrington',
  'Davenport',
  'Ellsworth',
  'Fairweather',
  'Greenhalgh',
  'Hollingsworth',
  'Inglewood',
  'Lockwood',
  'Merriweather',
  'Northcote',
  'Oglethorpe',
  'Pemberton',
  'Quarrington',
  'Rutherford',
  'Sackville',
  'Thistlewood',
  'Underhill',
  'Vanderbilt',
];
// Each person their own given name: two strangers with one name and one date of birth are a
// question for the model, not for this test.
const GIVEN = [
  'Oliver',
  'Harriet',
  'Ximena',
  'Bartholomew',
  'Quentin',
  'Ursula',
  'Zebedee',
  'Gwendolyn',
  'Augustin',
  'Beatrix',
  'Cornelius',
  'Delphine',
  'Evander',
  'Florentyna',
  'Gideon',
  'Hyacinth',
  'Isidore',
  'Juniper',
  'Kasimir',
  'Leocadia',
  'Montgomery',
  'Nerissa',
  'Octavius',
  'Philippa',
  'Rupert',
  'Seraphina',
  'Thaddeus',
  'Valentina',
  'Wilhelmina',
  'Yevgeny',
  'Algernon',
  'Bronwyn',
  'Cuthbert',
  'Drusilla',
  'Ebenezer',
  'Fenella',
  'Gulliver',
  'Henrietta',
  'Ignatius',
  'Jemima',
  'Aloysius',
  'Clementine',
  'Demetrius',
  'Esmeralda',
  'Ferdinand',
  'Georgiana',
  'Horatio',
  'Imogen',
  'Jedediah',
  'Katarina',
  'Lysander',
  'Marguerite',
  'Nikodem',
  'Ottilie',
  'Peregrine',
  'Rosalind',
  'Sebastian',
  'Theodora',
  'Ulysses',
  'Veronika',
  'Wolfgang',
  'Xanthe',
  'Yolanda',
  'Zacharias',
  'Anastasia',
  'Bertrand',
  'Cressida',
  'Dagobert',
  'Eulalia',
  'Fitzgerald',
  'Griselda',
  'Hieronymus',
  'Isadora',
  'Jacquetta',
  'Konstantin',
  'Lucinda',
  'Maximilian',
  'Niamh',
  'Orlando',
  'Persephone',
];

let hubs: TestHub[] = [];
let stopHubs = async () => {};
beforeAll(async () => {
  const env = { AURUM_INGEST_BATCH_SIZE: '1', AURUM_WORKER_CONCURRENCY: '4', AURUM_LINK_TRANSACTION_SIZE: '1' };
  // The default model decides every link: this is about linking side by side, not about what a
  // model trained on twenty households would learn.
  const configDir = copyWorkspace();
  writeFileSync(path.join(configDir, 'identity.yaml'), 'training:\n  minRecords: 100000\n');
  ({ hubs, stop: stopHubs } = await startSharedHubs(HUBS, { env, configDir }));
});
afterAll(() => stopHubs());

interface Sent {
  person: string;
  source: 'crm' | 'shop';
  body: Record<string, string>;
}

/**
 * Four people a household (a couple and twins), two records each: a shop customer and a CRM contact
 * without a date of birth. Nothing arrives later to heal a split.
 */
function households(): Sent[] {
  const sent: Sent[] = [];
  for (let h = 0; h < HOUSEHOLDS; h++) {
    const family = SURNAMES[h] as string;
    const shared = { email: `family${h}@example.com`, phone: `+44 20 7946 ${String(3000 + h).padStart(4, '0')}` };
    const births = [`1960-0${1 + (h % 9)}-11`, `1963-0${1 + (h % 9)}-23`, '1990-05-05', '1990-05-05'];
    births.forEach((birthday, p) => {
      const given = GIVEN[h * 4 + p] as string;
      const person = `h${h}p${p}`;
      sent.push({
        person,
        source: 'shop',
        body: { customer_id: `${person}-s`, full_name: `${given} ${family}`, email_address: shared.email, mobile: shared.phone, birthday },
      });
      sent.push({
        person,
        source: 'crm',
        body: { id: `${person}-c`, first_name: given, last_name: family, email: shared.email, phone: shared.phone },
      });
    });
  }
  return sent;
}

describe('overlapping households arriving through several processes at once', () => {
  const sent = households();

  it('keep each person whole and every relative apart, merge no profile twice and leave no job failed', async () => {
    // Everything at once, one person's two records to two hubs side by side.
    const responses = await Promise.all(sent.map((s, i) => hubs[i % HUBS]!.postWebhook(s.source, JSON.stringify(s.body))));
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 202));
    await hubs[0]!.settle();

    const db = hubs[0]!.testDb.database.db;
    const members = rowsOf<{ record_id: string; profile_id: string }>(
      await db.execute(sql`select record_id, profile_id from source_records where record_id like 'h%p%' and deleted_at is null`),
    );
    expect(members).toHaveLength(sent.length);
    const personOf = (recordId: string) => recordId.slice(0, recordId.indexOf('-'));
    const profilesOfPerson = new Map<string, Set<string>>();
    const peopleOfProfile = new Map<string, Set<string>>();
    for (const m of members) {
      const person = personOf(m.record_id);
      profilesOfPerson.set(person, (profilesOfPerson.get(person) ?? new Set()).add(m.profile_id));
      peopleOfProfile.set(m.profile_id, (peopleOfProfile.get(m.profile_id) ?? new Set()).add(person));
    }
    // No person split: each person's records on one profile.
    expect([...profilesOfPerson].filter(([, p]) => p.size !== 1).map(([person]) => person)).toEqual([]);
    // No relatives merged: each profile holds one person.
    expect([...peopleOfProfile.values()].filter((p) => p.size !== 1).map((p) => [...p].sort())).toEqual([]);
    expect(peopleOfProfile.size).toBe(HOUSEHOLDS * 4);

    // No profile merged twice, and every retired profile points at a live survivor.
    const retired = rowsOf<{ id: string; n: string | number }>(
      await db.execute(
        sql`select r.retired as id, count(*) as n from profile_merges m, unnest(m.retired_ids) as r(retired) where m.kind = 'link' group by r.retired having count(*) > 1`,
      ),
    );
    expect(retired).toEqual([]);
    const dangling = rowsOf(
      await db.execute(sql`select r.id from profiles r join profiles s on s.id = r.merged_into where s.merged_into is not null`),
    );
    expect(dangling).toEqual([]);
    const onRetired = rowsOf(
      await db.execute(sql`select sr.id from source_records sr join profiles p on p.id = sr.profile_id where p.merged_into is not null`),
    );
    expect(onRetired).toEqual([]);

    // A deadlock between two linking transactions is retried, never left failed or quarantined.
    const failed = rowsOf(await db.execute(sql`select id from pgboss.job where name like 'aurum-%' and state = 'failed'`));
    expect(failed).toEqual([]);
    expect(await hubs[0]!.count('quarantine')).toBe(0);
  });
});
