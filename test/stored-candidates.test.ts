import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

// Live linking compares arrivals with the stored records that share their keys, and keeps what it
// made of each stored record for the next arrival (src/resolution/score-candidates.ts). These
// arrive before any model is trained: the default model decides, and a shared full name alone does
// not link, while a shared email with it does.
let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t.stop());

const send = async (source: 'crm' | 'shop', record: Record<string, unknown>) => {
  expect((await t.postWebhook(source, JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const profileOf = async (externalId: string) => (await t.json('GET', `/profiles?externalId=${externalId}`)).profiles[0]?.id as string;

describe('stored records as candidates', () => {
  it('compares an arrival with a stored record as it is now, not as it was when last compared', async () => {
    await send('crm', {
      id: 'c1',
      first_name: 'Ann',
      last_name: 'Lindqvist',
      email: 'ann@old.example',
      updated_at: '2026-01-01T00:00:00Z',
    });
    await send('shop', { customer_id: 's1', full_name: 'Ann Lindqvist', email_address: 'ann@old.example' });
    expect(await profileOf('shop:s1')).toBe(await profileOf('crm:c1'));

    // The CRM record changes its email after it was compared with s1.
    await send('crm', {
      id: 'c1',
      first_name: 'Ann',
      last_name: 'Lindqvist',
      email: 'ann@new.example',
      updated_at: '2026-02-01T00:00:00Z',
    });
    // A name alone does not link: this shop record shares the new email with c1 and nothing with s1 but the name.
    await send('shop', { customer_id: 's2', full_name: 'Ann Lindqvist', email_address: 'ann@new.example' });
    expect(await profileOf('shop:s2')).toBe(await profileOf('crm:c1'));
    expect((await t.json('GET', `/profiles/${await profileOf('crm:c1')}`)).emails).toContain('ann@new.example');

    // And a name alone, with an email no record holds, stays apart.
    await send('shop', { customer_id: 's3', full_name: 'Ann Lindqvist', email_address: 'someone.else@example.org' });
    expect(await profileOf('shop:s3')).not.toBe(await profileOf('crm:c1'));
  });
});
