/**
 * Delivery of accounts: a destination that takes accounts (`entities: [person, account]`) hears of
 * their records, merges, splits and members; one that takes persons only, the default, hears
 * nothing of them. Through the HTTP app, to a real receiving server that checks every signature.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { SECRETS, startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { type Received, startReceiver } from './helpers/receiver.ts';
import { writeWorkspace } from './helpers/workspace.ts';

/** An ERP whose partners are companies and their people (Odoo's res.partner), as in accounts.test.ts. */
const workspace = () =>
  writeWorkspace({
    'connectors/erp.yaml': 'type: webhook\nsecret: ${CRM_SECRET}\n',
    'mappings/erp-company.yaml': `source: erp
object: company
when: is_company = true
recordId: id
account: |
  { "name": name, "domains": [website], "phones": [phone], "externalIds": {"erp": $string(id)} }
`,
    'mappings/erp-contact.yaml': `source: erp
object: contact
when: is_company = false
recordId: id
profile: |
  { "name": name, "emails": [email], "externalIds": {"erp": $string(id)},
    "consent": marketing != null ? [{ "purpose": "marketing", "status": marketing ? "granted" : "denied", "at": "2026-01-01T00:00:00Z" }] : [],
    "accounts": parent_id ? [{"ref": {"externalIds": {"erp": $string(parent_id)}}, "role": function}] : [] }
`,
  });

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const ids: Record<string, string> = {};
/** Paths that answer 503 for now. */
const down = new Set<string>();
beforeAll(async () => {
  // A circuit that outlasts the outage one test makes, so nothing waits a cooldown.
  t = await startTestHub({ configDir: workspace(), env: { AURUM_DELIVERY_CIRCUIT_THRESHOLD: '100' } });
  receiver = await startReceiver((path) => (down.has(path) ? 503 : 204));
  // Before any record arrives, so each hears of everything as it happens.
  ids['persons'] = (await destination('/persons')).id;
  ids['both'] = (await destination('/both', { entities: ['person', 'account'] })).id;
  ids['members'] = (
    await destination('/members', { entities: ['account'], events: ['account.member_added', 'account.member_removed'] })
  ).id;
  ids['minimal'] = (await destination('/minimal', { entities: ['person', 'account'], fields: ['name', 'domains'] })).id;
  ids['marketing'] = (await destination('/marketing', { entities: ['person', 'account'], purposes: ['marketing'] })).id;
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

async function destination(path: string, settings: Record<string, unknown> = {}) {
  const response = await t.call('POST', '/destinations', { url: receiver.url(path), ...settings });
  expect(response.status).toBe(201);
  const created = (await response.json()) as { id: string; secret: string; entities: string[] };
  receiver.trust(path, created.secret);
  return created;
}
const erp = async (r: Record<string, unknown>) => {
  expect((await t.postWebhook('erp', JSON.stringify(r), SECRETS.CRM_SECRET)).status).toBe(202);
  await t.settle();
};
const at = (path: string) => receiver.received.filter((r) => r.path === path);
const of = (path: string, event: string, account?: string) =>
  at(path).filter((r) => r.json.event === event && (account === undefined || r.json.account?.id === account));
const accountOf = async (erpId: number) =>
  (await t.json<{ accounts: { id: string }[] }>('GET', `/accounts?externalId=erp:${erpId}`)).accounts[0]?.id as string;
const personOf = async (email: string) =>
  (await t.json<{ profiles: { id: string }[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)).profiles[0]?.id as string;
const deliveries = async (id: string) =>
  (await t.json<{ deliveries: { profileId: string; event: string; status: string }[] }>('GET', `/destinations/${id}/deliveries`))
    .deliveries;
/** Waits until no delivery of any destination is still to go. */
const drained = async () => {
  await t.settle();
  for (const id of Object.values(ids)) {
    await waitFor(async () => (await deliveries(id)).every((d) => !['pending', 'sending', 'retrying'].includes(d.status)));
  }
};
const signed = (received: Received[]) => received.every((r) => r.signatureValid);

describe('a destination taking accounts', () => {
  it('receives account.updated with the account’s record, then account.member_added when a person names the account', async () => {
    await erp({ id: 1, is_company: true, name: 'Acme Ltd', website: 'https://www.acme.example', phone: '+442079460001' });
    await erp({ id: 2, is_company: false, name: 'Ada Lovelace', email: 'ada@acme.example', parent_id: 1, function: 'CTO' });
    await drained();
    const acme = await accountOf(1);
    const ada = await personOf('ada@acme.example');

    const [updated, ...more] = of('/both', 'account.updated', acme);
    expect(more).toEqual([]);
    expect(updated?.headers['x-aurum-event']).toBe('account.updated');
    expect(updated?.json).toEqual({
      event: 'account.updated',
      account: expect.objectContaining({
        id: acme,
        version: expect.any(Number),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        name: 'Acme Ltd',
        domains: ['acme.example'],
      }),
    });
    const [added] = of('/both', 'account.member_added', acme);
    expect(added?.json).toEqual({
      event: 'account.member_added',
      account: { id: acme },
      member: { profileId: ada, role: 'CTO', source: 'erp', validFrom: expect.any(String) },
    });
    expect(at('/both').some((r) => r.json.event === 'profile.updated' && r.json.profile.id === ada)).toBe(true);
    expect(signed(at('/both'))).toBe(true);
  });

  it('receives an account’s record before its member events when its people came first', async () => {
    await erp({ id: 31, is_company: false, name: 'Alan Turing', email: 'alan@bletchley.example', parent_id: 30, function: 'Analyst' });
    await erp({ id: 30, is_company: true, name: 'Bletchley Park', website: 'bletchley.example' });
    await drained();
    const park = await accountOf(30);
    expect(
      at('/both')
        .filter((r) => r.json.account?.id === park)
        .map((r) => r.json.event),
    ).toEqual(['account.updated', 'account.member_added']);
  });

  it('that takes persons only (the default) hears of the person and nothing of the account', async () => {
    const ada = await personOf('ada@acme.example');
    expect(at('/persons').some((r) => r.json.event === 'profile.updated' && r.json.profile.id === ada)).toBe(true);
    expect(at('/persons').filter((r) => r.json.event.startsWith('account.'))).toEqual([]);
    const persons = await t.json('GET', `/destinations/${ids['persons']}`);
    expect(persons.entities).toEqual(['person']);
  });

  it('with an events filter of member events receives those alone, and no person', async () => {
    const acme = await accountOf(1);
    expect(new Set(at('/members').map((r) => r.json.event))).toEqual(new Set(['account.member_added']));
    expect(of('/members', 'account.member_added', acme)).toHaveLength(1);
    expect(signed(at('/members'))).toBe(true);
  });

  it('with a fields allowlist receives those fields of each record, and nothing when only others change', async () => {
    const acme = await accountOf(1);
    const [minimal] = of('/minimal', 'account.updated', acme);
    expect(Object.keys(minimal?.json.account).sort()).toEqual(['domains', 'id', 'name', 'updatedAt', 'version']);
    const person = at('/minimal').find((r) => r.json.event === 'profile.updated');
    expect(Object.keys(person?.json.profile).sort()).toEqual(['id', 'name', 'updatedAt', 'version']);

    // A new phone: news to a destination taking every field, not to one taking the name and domains.
    await erp({ id: 1, is_company: true, name: 'Acme Ltd', website: 'https://www.acme.example', phone: '+442079460002' });
    await drained();
    expect(of('/both', 'account.updated', acme)).toHaveLength(2);
    expect(of('/minimal', 'account.updated', acme)).toHaveLength(1);
  });

  it('with purposes still receives accounts, which carry no consent, while a person without it is not sent', async () => {
    const acme = await accountOf(1);
    const ada = await personOf('ada@acme.example');
    expect(of('/marketing', 'account.updated', acme)).toHaveLength(2);
    expect(of('/marketing', 'account.member_added', acme)).toHaveLength(1);
    expect(at('/marketing').filter((r) => r.json.profile?.id === ada)).toEqual([]);
    const log = await deliveries(ids['marketing'] as string);
    expect(log.filter((d) => d.event.startsWith('account.')).every((d) => d.status === 'delivered')).toBe(true);
    expect(signed(at('/marketing'))).toBe(true);
  });

  it('receives account.member_removed when the person’s source stops stating the membership', async () => {
    const acme = await accountOf(1);
    const ada = await personOf('ada@acme.example');
    await erp({ id: 2, is_company: false, name: 'Ada Lovelace', email: 'ada@acme.example', parent_id: false, function: 'CTO' });
    await drained();
    for (const path of ['/both', '/members']) {
      const [removed, ...more] = of(path, 'account.member_removed', acme);
      expect(more).toEqual([]);
      expect(removed?.signatureValid).toBe(true);
      expect(removed?.json).toEqual({
        event: 'account.member_removed',
        account: { id: acme },
        member: { profileId: ada, role: 'CTO', source: 'erp', validFrom: expect.any(String) },
      });
    }
    expect(at('/persons').filter((r) => r.json.event.startsWith('account.'))).toEqual([]);
  });

  it('receives account.merged naming the retired account on POST /accounts/merge, and account.split on a split', async () => {
    await erp({ id: 10, is_company: true, name: 'Stark Industries', website: 'stark.example' });
    await erp({ id: 11, is_company: true, name: 'Stark Ind.', website: 'starkindustries.example' });
    await drained();
    const [a, b] = [await accountOf(10), await accountOf(11)];
    expect(a).not.toBe(b);

    const merged = await t.json('POST', '/accounts/merge', { ids: [a, b], reason: 'same company, renamed' });
    await drained();
    const [merge] = of('/both', 'account.merged', merged.account.id);
    expect(merge?.signatureValid).toBe(true);
    expect(merge?.json).toMatchObject({ account: { id: a }, merged: [b] });
    expect(merge?.json.account.domains.sort()).toEqual(['stark.example', 'starkindustries.example']);
    // The retired id hears nothing after its merge.
    const after = at('/both').slice(at('/both').indexOf(merge as Received) + 1);
    expect(after.filter((r) => r.json.account?.id === b)).toEqual([]);

    const split = await t.call('POST', `/accounts/${a}/split`, { records: [{ source: 'erp', recordId: '11' }] });
    expect(split.status).toBe(201);
    const created = ((await split.json()) as { split: { id: string } }).split.id;
    await drained();
    expect(of('/both', 'account.split', a).map((r) => r.json)).toEqual([
      { event: 'account.split', account: expect.objectContaining({ id: a, domains: ['stark.example'] }), splitInto: [created] },
    ]);
    expect(of('/both', 'account.split', created).map((r) => r.json)).toEqual([
      { event: 'account.split', account: expect.objectContaining({ id: created, domains: ['starkindustries.example'] }), splitFrom: a },
    ]);
    expect(signed(of('/both', 'account.split'))).toBe(true);
    expect(at('/persons').filter((r) => r.json.event.startsWith('account.'))).toEqual([]);
  });

  it('is backfilled with every live account and its members, and not sent a version it already holds', async () => {
    await erp({ id: 20, is_company: true, name: 'Hooli', website: 'hooli.example' });
    await erp({ id: 21, is_company: false, name: 'Gavin Belson', email: 'gavin@hooli.example', parent_id: 20, function: 'CEO' });
    await drained();
    const hooli = await accountOf(20);
    const gavin = await personOf('gavin@hooli.example');

    const late = await destination('/late', { entities: ['account'] });
    ids['late'] = late.id;
    expect((await t.call('POST', `/destinations/${late.id}/backfill`)).status).toBe(202);
    await waitFor(async () => (await t.json('GET', `/destinations/${late.id}/backfill`)).status === 'done');
    await drained();
    const accounts = (await t.json<{ accounts: { id: string }[] }>('GET', '/accounts')).accounts.map((a) => a.id);
    expect(
      of('/late', 'account.updated')
        .map((r) => r.json.account.id)
        .sort(),
    ).toEqual(accounts.sort());
    const members = of('/late', 'account.member_added').map((r) => `${r.json.account.id} ${r.json.member.profileId}`);
    const park = await accountOf(30);
    const alan = await personOf('alan@bletchley.example');
    expect(members.sort()).toEqual([`${hooli} ${gavin}`, `${park} ${alan}`].sort());
    expect(at('/late').filter((r) => r.json.event.startsWith('profile.'))).toEqual([]);
    expect(signed(at('/late'))).toBe(true);

    // Backfilled again, it already holds each account's version: only the members go again.
    const before = at('/late').length;
    const again = await t.json<{ id: string }>('POST', `/destinations/${late.id}/backfill`);
    await waitFor(async () => (await t.json('GET', `/destinations/${late.id}/backfill`)).id === again.id);
    await waitFor(async () => (await t.json('GET', `/destinations/${late.id}/backfill`)).status === 'done');
    await drained();
    expect(
      at('/late')
        .slice(before)
        .map((r) => r.json.event),
    ).toEqual(['account.member_added', 'account.member_added']);
  });

  it('hears of a person’s erasure, which ends their memberships: member events gave it the person’s id', async () => {
    const gavin = await personOf('gavin@hooli.example');
    const hooli = await accountOf(20);
    const before = at('/late').length;
    expect((await t.call('POST', `/profiles/${gavin}/erase`, { reason: 'data-subject request' })).status).toBe(200);
    await drained();
    expect(
      at('/late')
        .slice(before)
        .map((r) => r.json),
    ).toEqual([{ event: 'profile.erased', id: gavin }]);
    expect((await t.json('GET', `/accounts/${hooli}`)).members).toEqual([]);
    // The member events that named the person keep the ids alone in the delivery log: no role, no source.
    const bodies = rowsOf<{ body: string }>(
      await t.testDb.database.db.execute(sql`select body from deliveries where profile_id = ${hooli} and event like 'account.member%'`),
    ).map((r) => JSON.parse(r.body));
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) {
      expect(body).toEqual({ event: 'account.member_added', account: { id: hooli }, member: { profileId: gavin }, erased: true });
    }
  });
});

describe('a dead letter of an account', () => {
  it('is replayed unless overtaken: a member event only by a newer one about the same person', async () => {
    down.add('/replay');
    const from = new Date().toISOString();
    const replay = await destination('/replay', { entities: ['account'] });
    await erp({ id: 50, is_company: true, name: 'Initech', website: 'initech.example' });
    await erp({ id: 51, is_company: false, name: 'Peter Gibbons', email: 'peter@initech.example', parent_id: 50, function: 'Engineer' });
    const initech = await accountOf(50);
    await waitFor(async () => (await deliveries(replay.id)).filter((d) => d.status === 'failed').length === 2, 30_000);

    // Back up, it is sent a newer version of the account's record: that overtakes the old one, not the member.
    down.delete('/replay');
    await erp({ id: 50, is_company: true, name: 'Initech', website: 'initech.example', phone: '+442079460003' });
    await waitFor(async () => of('/replay', 'account.updated', initech).length === 1);
    const replayed = await t.json('POST', `/destinations/${replay.id}/replay`, { from, to: new Date().toISOString() });
    expect(replayed.replayed).toBe(1);
    await waitFor(async () => of('/replay', 'account.member_added', initech).length === 1);
    await t.settle();
    expect(at('/replay').map((r) => r.json.event)).toEqual(['account.updated', 'account.member_added']);
    expect(of('/replay', 'account.updated', initech)[0]?.json.account.phones).toEqual(['+442079460003']);
    expect(signed(at('/replay'))).toBe(true);
  });
});

describe('a destination’s entities', () => {
  it('are a non-empty list of person and account, without repeats', async () => {
    for (const entities of [[], ['company'], ['person', 'person'], null, 'account']) {
      const response = await t.call('POST', '/destinations', { url: receiver.url('/x'), entities });
      expect(response.status, JSON.stringify(entities)).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('invalid_request');
      expect(error.message).toMatch(/entities/);
    }
    const patched = await t.call('PATCH', `/destinations/${ids['persons']}`, { entities: ['robot'] });
    expect(patched.status).toBe(400);
    // The table holds the same rule, whoever writes to it.
    for (const entities of ['{}', '{robot}', '{person,robot}']) {
      const refused = await t.testDb.database.db
        .execute(sql`update destinations set entities = ${entities}::text[] where id = ${ids['persons']}`)
        .then(
          () => undefined,
          (error: Error) => error,
        );
      expect(String(refused?.cause ?? refused), entities).toMatch(/destinations_entities_check/);
    }
  });

  it('decide which fields and events may be asked for, and change with PATCH', async () => {
    // `domains` is an account's field: a destination taking persons only has none to send.
    const domains = await t.call('POST', '/destinations', { url: receiver.url('/x'), fields: ['domains'] });
    expect(domains.status).toBe(422);
    expect(((await domains.json()) as any).error).toMatchObject({ code: 'unknown_field', message: expect.stringMatching(/domains/) });
    const accountEvents = await t.call('POST', '/destinations', { url: receiver.url('/x'), events: ['account.updated'] });
    expect(accountEvents.status).toBe(400);
    expect(((await accountEvents.json()) as any).error.message).toMatch(/account\.updated.*entities/);

    const created = await destination('/patched', { fields: ['name'], events: ['profile.updated'] });
    expect(created.entities).toEqual(['person']);
    // Taking accounts alone would leave it an event it can never receive.
    const refused = await t.call('PATCH', `/destinations/${created.id}`, { entities: ['account'] });
    expect(refused.status).toBe(400);
    const patched = await t.json('PATCH', `/destinations/${created.id}`, {
      entities: ['account', 'person'],
      fields: ['name', 'domains'],
      events: ['profile.updated', 'account.updated'],
    });
    expect(patched).toMatchObject({ entities: ['account', 'person'], fields: ['name', 'domains'] });
    expect((await t.json('GET', `/destinations/${created.id}`)).entities).toEqual(['account', 'person']);
    const listed = (await t.json<{ destinations: any[] }>('GET', '/destinations')).destinations;
    expect(listed.find((d) => d.id === created.id).entities).toEqual(['account', 'person']);
    await t.call('DELETE', `/destinations/${created.id}`);
  });
});
