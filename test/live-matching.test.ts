import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';

/**
 * Probabilistic matching live in the pipeline: synthetic people (typos, nicknames, swapped dates,
 * shared family emails) arrive through signed webhooks; the hub trains its model on them without
 * labels and scores later arrivals against the stored profiles through indexed blocking keys.
 */
const ROOT = path.join(import.meta.dirname, '..');

function personWorkspace(identityYaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-live-'));
  cpSync(path.join(ROOT, 'bench', 'workspace', 'mappings'), path.join(dir, 'mappings'), { recursive: true });
  cpSync(path.join(ROOT, 'test', 'fixtures', 'workspace', 'connectors'), path.join(dir, 'connectors'), { recursive: true });
  writeFileSync(path.join(dir, 'identity.yaml'), identityYaml);
  return dir;
}

function people(count: number, seed: number) {
  const out = mkdtempSync(path.join(tmpdir(), 'aurum-people-'));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'bench', 'generate-people.ts'), '--people', String(count), '--seed', String(seed), '--out', out],
    { stdio: 'ignore' },
  );
  const crm = readFileSync(path.join(out, 'crm.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const shop = parse(readFileSync(path.join(out, 'shop.csv')), { columns: true, trim: true }) as Record<string, string>[];
  // The shop's empty cells are missing values, as its API would leave them out.
  const cleanShop = shop.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== '')));
  return { crm, shop: cleanShop };
}

async function sendAll(t: TestHub, source: 'crm' | 'shop', records: object[]) {
  for (let i = 0; i < records.length; i += 100) {
    expect((await t.postWebhook(source, JSON.stringify(records.slice(i, i + 100)))).status).toBe(202);
  }
}

const versions = async (t: TestHub) =>
  new Map(
    rowsOf<{ id: string; version: number }>(
      await t.testDb.database.db.execute(sql`
        select p.id, coalesce(g.version, 0) as version from profiles p left join golden_records g on g.profile_id = p.id
        where p.merged_into is null`),
    ).map((r) => [r.id, Number(r.version)]),
  );

const profileOfRecord = async (t: TestHub, source: string, recordId: string) => {
  const [row] = rowsOf<{ profile_id: string }>(
    await t.testDb.database.db.execute(sql`select profile_id from source_records where source = ${source} and record_id = ${recordId}`),
  );
  return row?.profile_id;
};

describe('live probabilistic matching', () => {
  let t: TestHub;
  beforeAll(async () => {
    // Training is explicit here: the automatic trigger is tested below.
    t = await startTestHub({ configDir: personWorkspace('training: { minRecords: 1000000 }\n') });
    const { crm, shop } = people(300, 11);
    await sendAll(t, 'crm', crm);
    await sendAll(t, 'shop', shop);
    await t.settle();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('has no model until trained, then shows each field’s levels with m, u and weight', async () => {
    const before = await t.call('GET', '/identity/model');
    expect(before.status).toBe(404);
    expect(((await before.json()) as any).error.code).toBe('not_found');

    const trained = await t.call('POST', '/identity/train', {});
    expect(trained.status).toBe(201);
    const summary = (await trained.json()) as any;
    expect(summary.sampled).toBe(summary.records);
    expect(summary.candidatePairs).toBeGreaterThan(0);

    const model = await t.json('GET', '/identity/model');
    expect(model.id).toBe(summary.id);
    expect(model.trainedBy).toBe('env:admin');
    const given = model.comparisons.find((c: any) => c.field === 'name.given');
    expect(given.levels.map((l: any) => l.level)).toEqual([
      'exact',
      'nickname',
      'jaroWinkler>=0.92',
      'swappedWith name.family',
      'initial',
      'jaroWinkler>=0.75',
      'else',
    ]);
    // Agreement is evidence for a match, disagreement against.
    expect(given.levels[0].weight).toBeGreaterThan(0);
    expect(given.levels.at(-1).weight).toBeLessThan(0);
  });

  it('links an arrival with typos and no shared identifier to its person, explaining the levels and weight', async () => {
    // Person 0 of the generated set, as a new source record: nickname, typo in the surname, day and month swapped.
    const { crm } = people(300, 11);
    const original = crm.find((r) => r['dob'] && r['address'] && Number(String(r['dob']).slice(8, 10)) <= 12) as any;
    const [year, month, day] = String(original.dob).split('-');
    // The links rebuild the last training asked for runs first: it may merge what the model now links.
    await t.settle();
    const target = await profileOfRecord(t, 'crm', original.id);
    const before = await versions(t);

    const surname = String(original.last_name);
    const variant = {
      id: 'late-1',
      first_name: original.first_name,
      last_name: `${surname.slice(0, -2)}${surname.at(-1)}${surname.at(-2)}`,
      dob: `${year}-${day}-${month}`,
      address: original.address,
    };
    expect((await t.postWebhook('crm', JSON.stringify(variant))).status).toBe(202);
    await t.settle();

    expect(await profileOfRecord(t, 'crm', 'late-1')).toBe(target);
    const { members } = await t.json('GET', `/profiles/${target}/matches`);
    const late = members.find((m: any) => m.recordId === 'late-1');
    expect(late.linkedBy.rule).toBe('probabilistic');
    expect(late.linkedBy.weight).toBeGreaterThan(0);
    expect(late.linkedBy.probability).toBeGreaterThanOrEqual(0.9);
    expect(late.linkedBy.levels['name.given']).toBe('exact');
    expect(late.linkedBy.levels.dateOfBirth).toBe(day === month ? 'exact' : 'dateTransposed');
    expect(late.linkedBy.levels.emails).toBe('null');

    // Only the profile the record joined changed.
    const after = await versions(t);
    for (const [id, version] of before) if (id !== target) expect(after.get(id)).toBe(version);
    expect(after.size).toBe(before.size);
  });

  it('keeps a family member who shares an email apart once the model weighs the names', async () => {
    const { crm } = people(300, 11);
    const parent = crm.find((r) => r['email'] && r['dob']) as any;
    const target = await profileOfRecord(t, 'crm', parent.id);
    const child = { id: 'kid-1', first_name: 'zebedee', last_name: parent.last_name, email: parent.email, dob: '2015-03-09' };
    expect((await t.postWebhook('crm', JSON.stringify(child))).status).toBe(202);
    await t.settle();
    const home = await profileOfRecord(t, 'crm', 'kid-1');
    expect(home).not.toBe(target);
    const { members } = await t.json('GET', `/profiles/${home}/matches`);
    expect(members).toEqual([{ source: 'crm', object: 'contact', recordId: 'kid-1', linkedBy: { rule: 'first record' } }]);
  });

  it('links two arrivals of a new person in one batch to each other', async () => {
    const records = [
      {
        id: 'new-1',
        first_name: 'margaret',
        last_name: 'quenneville',
        dob: '1981-04-17',
        address: { street: '4 elm row', town: 'leeds', postcode: 'LS6 2AB' },
      },
      {
        id: 'new-2',
        first_name: 'peggy',
        last_name: 'quenneville',
        dob: '1981-04-17',
        address: { street: '4 elm row', town: 'leeds', postcode: 'LS6 2AB' },
      },
    ];
    expect((await t.postWebhook('crm', JSON.stringify(records))).status).toBe(202);
    await t.settle();
    const id = await profileOfRecord(t, 'crm', 'new-1');
    expect(await profileOfRecord(t, 'crm', 'new-2')).toBe(id);
    const { members } = await t.json('GET', `/profiles/${id}/matches`);
    const levels = members.map((m: any) => m.linkedBy.levels?.['name.given']);
    expect(levels).toEqual(['nickname', 'nickname']);
  });
});

describe('automatic training', () => {
  let t: TestHub;
  afterAll(async () => {
    await t?.stop();
  });

  it('trains a model once the hub holds training.minRecords records', async () => {
    t = await startTestHub({
      configDir: personWorkspace('training: { minRecords: 50 }\n'),
      env: { AURUM_INGEST_BATCH_SIZE: '1000' },
    });
    const { crm } = people(80, 5);
    expect((await t.postWebhook('crm', JSON.stringify(crm))).status).toBe(202);
    await t.settle();
    await waitFor(async () => (await t.call('GET', '/identity/model')).status === 200);
    const model = await t.json('GET', '/identity/model');
    expect(model.trainedBy).toBe('aurum');
    expect(model.records).toBeGreaterThanOrEqual(50);
  });

  it('retrains a young model within the batch at each doubling: the records past each link with the newer model', async () => {
    const hub = await startTestHub({
      configDir: personWorkspace('training: { minRecords: 50, retrainGrowth: 2 }\n'),
      env: { AURUM_INGEST_BATCH_SIZE: '1000' },
    });
    try {
      // One body, one ingest batch, of more than four times minRecords.
      const { crm } = people(300, 11);
      expect(crm.length).toBeGreaterThan(200);
      expect((await hub.postWebhook('crm', JSON.stringify(crm))).status).toBe(202);
      await hub.settle();
      const trained = rowsOf<{ records: number; trained_by: string }>(
        await hub.testDb.database.db.execute(sql`select records, trained_by from identity_models order by id`),
      );
      // At 50, then 100 and 200 records within the batch; one at the batch's end is the training job's.
      expect(trained.slice(0, 3).map((m) => Number(m.records))).toEqual([50, 100, 200]);
      expect(trained.every((m) => m.trained_by === 'aurum')).toBe(true);
    } finally {
      await hub.stop();
    }
  });

  it('waits for the records to grow when they give nothing to learn from, linking on identifiers meanwhile', async () => {
    const hub = await startTestHub({ configDir: personWorkspace('training: { minRecords: 20 }\n') });
    try {
      // Thirty people with nothing in common: no two records share a blocking key.
      const crm = Array.from({ length: 30 }, (_, i) => ({ id: `solo-${i}`, email: `solo${i}@example.org` }));
      expect((await hub.postWebhook('crm', JSON.stringify(crm))).status).toBe(202);
      await hub.settle();
      expect((await hub.call('GET', '/identity/model')).status).toBe(404);
      // The batch tried on the first 20 (training.minRecords), found no pairs, and linked all 30 on identifiers.
      expect(hub.hub.ctx.models.failedAt).toBe(20);
      // The next record is not enough growth to try again, and still links on its email.
      expect((await hub.postWebhook('crm', JSON.stringify({ id: 'solo-again', email: 'solo3@example.org' }))).status).toBe(202);
      await hub.settle();
      expect(await profileOfRecord(hub, 'crm', 'solo-again')).toBe(await profileOfRecord(hub, 'crm', 'solo-3'));
      expect(await hub.count('identity_models')).toBe(0);
    } finally {
      await hub.stop();
    }
  });
});
