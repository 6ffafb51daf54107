/**
 * Records linked under an earlier model (or an earlier identity.yaml) are scored again: after each
 * training, and when what identity.yaml compares or weighs changes, a links rebuild walks the person
 * records and brings together what now matches, touching no other profile.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyWorkspace, restartTestHub, type TestHub, waitFor } from './helpers/hub.ts';

const hubs: TestHub[] = [];
afterAll(async () => {
  for (const t of hubs.reverse()) await t.stop().catch(() => {});
});

const restart = (dir: string, previous?: TestHub) => restartTestHub(dir, previous, hubs);

const rebuildsOf = async (t: TestHub, kind: string) =>
  ((await t.json('GET', '/rebuilds')).rebuilds as Record<string, any>[]).filter((r) => r.kind === kind);
const profileOf = async (t: TestHub, externalId: string) => (await t.json('GET', `/profiles?externalId=${externalId}`)).profiles[0];

describe('a links rebuild', () => {
  it('links records that now match when identity.yaml weighs again, and leaves every other profile as it was', {
    timeout: 60_000,
  }, async () => {
    const dir = copyWorkspace();
    // A threshold so strict that one person's two records (a name and a phone in common, two emails) stay apart.
    writeFileSync(path.join(dir, 'identity.yaml'), 'threshold: 0.9999999\n');
    const first = await restart(dir);
    await first.postWebhook(
      'crm',
      JSON.stringify({ id: 'r1', first_name: 'Lee', last_name: 'Park', email: 'lee@example.com', phone: '+44 20 7946 0301' }),
    );
    await first.postWebhook(
      'shop',
      JSON.stringify({ customer_id: 'r2', full_name: 'Lee Park', email_address: 'lee.park@example.com', mobile: '+44 20 7946 0301' }),
    );
    await first.postWebhook('crm', JSON.stringify({ id: 'r3', first_name: 'Kim', last_name: 'Osei', email: 'kim@example.com' }));
    await first.settle();
    expect((await profileOf(first, 'crm:r1')).id).not.toBe((await profileOf(first, 'shop:r2')).id);
    const kim = await profileOf(first, 'crm:r3');

    writeFileSync(path.join(dir, 'identity.yaml'), 'threshold: 0.9\n');
    const second = await restart(dir, first);
    await waitFor(async () => (await rebuildsOf(second, 'links'))[0]?.status === 'done');
    await second.settle();
    const [rebuild] = await rebuildsOf(second, 'links');
    expect(rebuild).toMatchObject({ reason: expect.stringContaining('threshold'), total: 3, processed: 3 });
    const lee = await profileOf(second, 'crm:r1');
    expect((await profileOf(second, 'shop:r2')).id).toBe(lee.id);
    const { members } = await second.json('GET', `/profiles/${lee.id}/matches`);
    expect(members.map((m: any) => m.linkedBy.rule)).toContain('probabilistic');
    // Kim matched nothing new: her golden record was not rewritten.
    expect(await profileOf(second, 'crm:r3')).toEqual(kim);
  });

  it("keeps the relatives of an erased person: a record that survived the erasure is no erased person's", { timeout: 60_000 }, async () => {
    const t = await restart(copyWorkspace());
    const home = { email_address: 'okafors@example.com', mobile: '+44 20 7946 0401' };
    await t.postWebhook('shop', JSON.stringify({ customer_id: 'e1', full_name: 'Chidi Okafor', birthday: '1970-02-02', ...home }));
    await t.postWebhook('shop', JSON.stringify({ customer_id: 'e2', full_name: 'Ngozi Okafor', birthday: '1972-09-09', ...home }));
    await t.settle();
    const chidi = await profileOf(t, 'shop:e1');
    const ngozi = await profileOf(t, 'shop:e2');
    expect(chidi.id).not.toBe(ngozi.id);
    const erased = await t.as('compliance', 'POST', `/profiles/${chidi.id}/erase`, { reason: 'Art. 17 request' });
    expect(erased.status).toBeLessThan(300);
    await t.settle();
    const suppressions = await t.count('suppressions');
    await t.json('POST', '/rebuilds', { kinds: ['links'], reason: 'test' });
    await waitFor(async () => (await rebuildsOf(t, 'links')).some((r) => r.reason === 'test' && r.status === 'done'));
    await t.settle();
    // Ngozi shares the erased person's email and phone, and is still herself, with her record whole:
    // nothing of hers was taken for the erased person's.
    expect(await t.count('suppressions')).toBe(suppressions);
    expect(await profileOf(t, 'shop:e2')).toMatchObject({ id: ngozi.id, emails: ['okafors@example.com'] });
  });

  it('runs after each training, asked for by the hub', { timeout: 60_000 }, async () => {
    const t = await restart(copyWorkspace());
    const people = Array.from({ length: 40 }, (_, i) => ({
      id: `t-${i}`,
      first_name: ['Ann', 'Bo', 'Cy', 'Di', 'Ed'][i % 5],
      last_name: `Family${Math.floor(i / 2)}`,
      email: `p${Math.floor(i / 2)}@example.com`,
    }));
    await t.postWebhook('crm', JSON.stringify(people));
    await t.settle();
    const trained = await t.json('POST', '/identity/train');
    // Forty records of twenty people: too few matched pairs to outweigh the default m.
    expect(trained.expectedMatches).toBeLessThan(100);
    expect(trained.warning).toMatch(/^too few records to learn from/);
    const reason = `identity model ${trained.id} was trained: records linked under earlier models are scored again`;
    const rescored = async () => (await rebuildsOf(t, 'links')).find((r) => r.reason === reason);
    await waitFor(async () => (await rescored())?.status === 'done');
    expect(await rescored()).toMatchObject({ total: 40, processed: 40 });

    // A model trained while that walk is queued or running is not left to it: the records are
    // walked again once it ends, so every record is scored with the model in force in the end.
    await t.json('POST', '/rebuilds', { kinds: ['links'], reason: 'a long walk' });
    const newer = await t.json('POST', '/identity/train');
    const after = async () =>
      (await rebuildsOf(t, 'links')).filter(
        (r) =>
          r.reason === `identity model ${newer.id} was trained: records linked under earlier models are scored again` ||
          r.reason.startsWith('a model was trained since the records were last scored'),
      );
    await waitFor(async () => (await after()).some((r) => r.status === 'done'));
    await t.settle();
    expect((await rebuildsOf(t, 'links')).filter((r) => r.status === 'queued' || r.status === 'running')).toEqual([]);
  });
});
