import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  const configDir = copyWorkspace();
  writeFileSync(path.join(configDir, 'identity.yaml'), 'guards:\n  uniqueSystems: [crm]\n  maxPerProfile: { emails: 3 }\n');
  t = await startTestHub({ configDir });
});
afterAll(() => t.stop());

const send = async (source: 'crm' | 'shop', record: Record<string, unknown>) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const idOf = async (query: string) => (await t.json('GET', `/profiles?${query}`)).profiles[0]?.id as string;

describe('guards from identity.yaml', () => {
  it('refuse a merge that would give a profile two ids of a system declared unique, and record why', async () => {
    await send('crm', { id: 'u1', email: 'kit@example.com' });
    await send('crm', { id: 'u2', email: 'kat@example.com' });
    // A shop record claims both: kit's email and kat's CRM id.
    await send('shop', { customer_id: 'u3', email_address: 'kit@example.com', crm_id: 'u2' });
    const kit = await idOf('externalId=crm:u1');
    const kat = await idOf('email=kat@example.com');
    expect(kit).not.toBe(kat);
    // The shop record carries kat's CRM id: it joins kat, whose id it names, not kit.
    expect(await idOf('externalId=shop:u3')).toBe(kat);
    const { history } = await t.json('GET', `/profiles/${kit}/history`);
    expect(history.at(-1)).toMatchObject({
      kind: 'refused',
      others: [kat],
      details: { reasons: ['two different crm ids (declared unique)'] },
    });
  });

  it('refuse a merge that would put more identifiers of a type in one profile than allowed', async () => {
    // One person's records with a different email each: the shared phone, with the name, links them.
    const lee = { full_name: 'Lee Park' };
    await send('shop', { customer_id: 'l1', email_address: 'l1@example.com', ...lee });
    await send('crm', { id: 'l2', email: 'l2@example.com', first_name: 'Lee', last_name: 'Park' });
    await send('shop', { customer_id: 'l3', email_address: 'l3@example.com', ...lee });
    await send('shop', { customer_id: 'l4', email_address: 'l4@example.com', ...lee });
    // Each bridge adds one more email: the third merge would make four.
    await send('crm', { id: 'l2', email: 'l2@example.com', phone: '+44 20 7946 0101', first_name: 'Lee', last_name: 'Park' });
    await send('shop', { customer_id: 'l1', email_address: 'l1@example.com', mobile: '+44 20 7946 0101', ...lee });
    expect(await idOf('email=l1@example.com')).toBe(await idOf('email=l2@example.com'));
    await send('shop', { customer_id: 'l3', email_address: 'l3@example.com', mobile: '+44 20 7946 0101', ...lee });
    const first = await idOf('email=l1@example.com');
    expect(await idOf('email=l3@example.com')).toBe(first);
    await send('shop', { customer_id: 'l4', email_address: 'l4@example.com', mobile: '+44 20 7946 0101', ...lee });
    expect(await idOf('email=l4@example.com')).not.toBe(first);
    const { history } = await t.json('GET', `/profiles/${first}/history`);
    expect(history.at(-1)).toMatchObject({ kind: 'refused', details: { reasons: ['more than 3 emails in one profile'] } });
  });

  it('quarantine a single record carrying more identifiers than a profile may hold, alone, and link the rest of its body', async () => {
    const emails = Array.from({ length: 30_000 }, (_, i) => `list.${i}@example.com`);
    await send('crm', [
      { id: 'many-1', email: emails, first_name: 'Mailing', last_name: 'List' },
      { id: 'few-1', email: 'few@example.com', first_name: 'Fay' },
    ] as unknown as Record<string, unknown>);
    expect(await idOf('email=few@example.com')).toEqual(expect.any(String));
    expect(await idOf('email=list.0@example.com')).toBeUndefined();
    const { items } = await t.json('GET', '/quarantine?source=crm');
    const entry = items.find((i: { payload: { id?: string } }) => i.payload.id === 'many-1');
    expect(entry).toMatchObject({ code: 'too_many_identifiers', status: 'open' });
    expect(entry.message).toContain('30000 emails (maxPerProfile.emails is 3)');
    expect(entry.message).not.toContain('@');
    expect(await t.count(`record_keys where key like 'email:list.%'`)).toBe(0);
  });
});
