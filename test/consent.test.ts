/**
 * Purposes declared in consent.yaml, consent queries for compliance, defaults, and consent changes
 * in the audit log.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/yaml-file.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { copyWorkspace, type ROLE_KEYS, SECRETS, startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

const CONSENT = `purposes:
  - name: marketing
    description: Marketing emails and offers
  - name: analytics
    description: Product analytics
    default: granted
`;

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  const dir = copyWorkspace();
  writeFileSync(path.join(dir, 'consent.yaml'), CONSENT);
  // The shop also asks for consent to a newsletter, which consent.yaml does not declare.
  writeFileSync(
    path.join(dir, 'mappings', 'shop-customer.yaml'),
    `source: shop
object: customer
recordId: customer_id
updatedAt: modified
profile: |
  {
    "name": { "full": full_name },
    "emails": [email_address],
    "externalIds": { "shop": customer_id },
    "consent": newsletter != null ? [{ "purpose": "newsletter", "status": newsletter ? "granted" : "denied", "at": modified }]
  }
`,
  );
  t = await startTestHub({ configDir: dir });
  receiver = await startReceiver();
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

const as = (role: keyof typeof ROLE_KEYS, path: string) => t.as(role, 'GET', path);
const crm = async (record: object) => {
  expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
const idOf = async (email: string) =>
  (await t.json<{ profiles: { id: string }[] }>('GET', `/profiles?email=${email}`)).profiles[0]?.id as string;

describe('consent.yaml and consent queries', () => {
  const ids: Record<string, string> = {};

  it('lists the profiles granted or denied a purpose, each with the entry that decided it or the default', async () => {
    const analytics = await t.json<{ id: string; secret: string }>('POST', '/destinations', {
      url: receiver.url('/analytics'),
      purposes: ['analytics'],
    });
    receiver.trust('/analytics', analytics.secret);
    await crm({ id: 'cg-1', email: 'gia@example.com', marketing_opt_in: true, updated_at: '2024-03-01T00:00:00Z' });
    await crm({ id: 'cd-1', email: 'dan@example.com', marketing_opt_in: false, updated_at: '2024-03-02T00:00:00Z' });
    await crm({ id: 'cn-1', email: 'nia@example.com' });
    for (const who of ['gia', 'dan', 'nia']) ids[who] = await idOf(`${who}@example.com`);

    const granted = await t.json<Record<string, any>>('GET', '/consent?purpose=marketing&status=granted');
    expect(granted).toMatchObject({ purpose: 'marketing', status: 'granted', default: 'denied', next: null });
    expect(granted['profiles']).toEqual([
      {
        profileId: ids['gia'],
        status: 'granted',
        decidedBy: {
          status: 'granted',
          at: '2024-03-01T00:00:00.000Z',
          statedAt: null,
          receivedAt: expect.any(String),
          source: 'crm',
          recordId: 'cg-1',
          mapping: expect.stringContaining('crm-contact.yaml'),
        },
      },
    ]);
    const denied = await t.json<{ profiles: { profileId: string; decidedBy: unknown }[] }>(
      'GET',
      '/consent?purpose=marketing&status=denied',
    );
    expect(new Map(denied.profiles.map((p) => [p.profileId, p.decidedBy]))).toEqual(
      new Map([
        [ids['dan'], expect.objectContaining({ recordId: 'cd-1', status: 'denied' })],
        [ids['nia'], null],
      ]),
    );
    // Analytics is granted unless someone says otherwise: every profile, each by default.
    const byDefault = await t.json<{ profiles: { decidedBy: unknown }[] }>('GET', '/consent?purpose=analytics&status=granted');
    expect(byDefault.profiles).toHaveLength(3);
    expect(byDefault.profiles.every((p) => p.decidedBy === null)).toBe(true);
    // …so the analytics destination receives them, though no record mentions analytics.
    await waitFor(async () => new Set(receiver.received.filter((r) => r.path === '/analytics').map((r) => r.json.profile?.id)).size === 3);

    const first = await t.json<{ profiles: { profileId: string }[]; next: string }>(
      'GET',
      '/consent?purpose=analytics&status=granted&limit=2',
    );
    expect(first.profiles).toHaveLength(2);
    const rest = await t.json<{ profiles: { profileId: string }[]; next: null }>(
      'GET',
      `/consent?purpose=analytics&status=granted&limit=2&after=${first.next}`,
    );
    expect(rest).toMatchObject({ profiles: [expect.any(Object)], next: null });
    expect([...first.profiles, ...rest.profiles].map((p) => p.profileId).sort()).toEqual(Object.values(ids).sort());
  });

  it('shows declared purposes at their default in a profile’s consent', async () => {
    const body = await t.json<{ purposes: Record<string, unknown>[]; ledger: Record<string, unknown>[] }>(
      'GET',
      `/profiles/${ids['gia']}/consent`,
    );
    // The full ledger: source, record, mapping, `at` and when it was received.
    expect(body.ledger).toEqual([
      {
        purpose: 'marketing',
        status: 'granted',
        at: '2024-03-01T00:00:00.000Z',
        statedAt: null,
        receivedAt: expect.any(String),
        source: 'crm',
        recordId: 'cg-1',
        mapping: expect.stringContaining('crm-contact.yaml'),
        mappingHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    expect(body.purposes).toEqual([
      expect.objectContaining({ purpose: 'marketing', status: 'granted', decidedBy: 'entry', source: 'crm', recordId: 'cg-1' }),
      { purpose: 'analytics', status: 'granted', decidedBy: 'default' },
    ]);
  });

  it('audits each change of a profile’s consent, naming the source that said so', async () => {
    await crm({ id: 'cg-1', email: 'gia@example.com', marketing_opt_in: false, updated_at: '2024-04-01T00:00:00Z' });
    const { entries } = await t.json<{ entries: Record<string, unknown>[] }>('GET', `/audit?profile=${ids['gia']}&action=consent.changed`);
    expect(entries.map((e) => [e['actor'], e['details']])).toEqual([
      ['source:crm', { purpose: 'marketing', from: 'granted', to: 'denied', at: '2024-04-01T00:00:00.000Z', source: 'crm' }],
      ['source:crm', { purpose: 'marketing', from: null, to: 'granted', at: '2024-03-01T00:00:00.000Z', source: 'crm' }],
    ]);
  });

  it('quarantines a record whose consent names an undeclared purpose, and refuses such purposes in queries and destinations', async () => {
    const body = JSON.stringify({ customer_id: 's-news', full_name: 'Nell News', email_address: 'nell@example.com', newsletter: true });
    expect((await t.postWebhook('shop', body, SECRETS.SHOP_SECRET)).status).toBe(202);
    await t.settle();
    const { items } = await t.json<{ items: Record<string, unknown>[] }>('GET', '/quarantine?source=shop');
    expect(items).toContainEqual(
      expect.objectContaining({ code: 'consent_purpose_unknown', message: expect.stringContaining('newsletter') }),
    );
    expect(await t.count(`source_records where record_id = 's-news'`)).toBe(0);

    expect((await as('compliance', '/consent?purpose=newsletter&status=granted')).status).toBe(400);
    expect((await as('compliance', '/consent?purpose=marketing&status=maybe')).status).toBe(400);
    expect((await as('reader', '/consent?purpose=marketing&status=granted')).status).toBe(403);
    const refused = await t.call('POST', '/destinations', { url: receiver.url('/news'), purposes: ['newsletter'] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { message: expect.stringContaining('newsletter') } });
  });

  it('validates consent.yaml at start-up, naming the file and field', () => {
    const dir = copyWorkspace();
    writeFileSync(path.join(dir, 'consent.yaml'), 'purposes:\n  - name: Marketing Emails\n    default: maybe\n');
    let error: unknown;
    try {
      loadWorkspace(dir, { ...process.env, ...SECRETS });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/consent\.yaml:2 purposes\.0\.name/);
    expect((error as Error).message).toMatch(/consent\.yaml.*description/);
  });
});
