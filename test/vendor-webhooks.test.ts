/**
 * Vendor webhooks through the real HTTP entry point: each vendor's signature scheme, computed here by
 * its documented algorithm (Stripe's also by its SDK), a stale timestamp, a replay and a rotated
 * secret; then the documented payloads mapped by the types' default mappings into one golden record,
 * a member of the accounts that Zendesk's organization events and Intercom's company notifications make.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

const SECRET = {
  STRIPE: 'whsec_test_0123456789abcdef',
  STRIPE_OLD: 'whsec_old_0123456789abcdef',
  HUBSPOT: 'hubspot-client-secret-0123456789',
  ZENDESK: 'zendesk-signing-secret-0123456789',
  INTERCOM: 'intercom-client-secret-0123456789',
  MAILCHIMP: 'mailchimp-url-token-0123456789',
};
const now = () => Math.floor(Date.now() / 1000);
const hmac = (algorithm: string, secret: string, data: string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);

function vendorWorkspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-vendors-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  const write = (name: string, yaml: string) => writeFileSync(path.join(dir, 'connectors', `${name}.yaml`), yaml);
  write('billing', 'type: stripe\nsecret: ${STRIPE_SECRET}\npreviousSecrets: ["${STRIPE_OLD_SECRET}"]\npriority: 40\n');
  write('crm', 'type: hubspot\nsecret: ${HUBSPOT_SECRET}\nwebhookUrl: https://hub.example.com/webhooks/crm\n');
  write('support', 'type: zendesk\nsecret: ${ZENDESK_SECRET}\n');
  write('messaging', 'type: intercom\nsecret: ${INTERCOM_SECRET}\n');
  write('newsletter', 'type: mailchimp\nsecret: ${MAILCHIMP_SECRET}\n');
  return dir;
}

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({
    configDir: vendorWorkspace(),
    env: Object.fromEntries(Object.entries(SECRET).map(([k, v]) => [`${k}_SECRET`, v])),
  });
});
afterAll(() => t?.stop());

const post = (source: string, body: string, headers: Record<string, string>, query = '') =>
  t.hub.app.request(`/webhooks/${source}${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

const stripeEvent = JSON.stringify({
  id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
  object: 'event',
  api_version: '2024-06-20',
  created: now(),
  type: 'customer.updated',
  data: {
    object: {
      id: 'cus_NffrFeUfNV2Hib',
      object: 'customer',
      address: { city: 'London', country: 'GB', line1: '1 High Street', line2: null, postal_code: 'SW1A 1AA', state: null },
      balance: 0,
      created: 1680893993,
      currency: 'gbp',
      delinquent: false,
      email: 'jenny.rosen@example.com',
      name: 'Jenny Rosen',
      phone: '+447911123456',
      metadata: {},
    },
  },
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
});

describe('Stripe webhooks (Stripe-Signature)', () => {
  const stripe = new Stripe('sk_test_unused');
  const header = (payload: string, secret = SECRET.STRIPE, timestamp = now()) =>
    stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

  it('accepts a delivery signed as the Stripe SDK signs it, and refuses the same delivery again', async () => {
    const signature = header(stripeEvent);
    // The vector is Stripe's own: its SDK accepts what we accept.
    expect(stripe.webhooks.constructEvent(stripeEvent, signature, SECRET.STRIPE).id).toBe('evt_1NG8Du2eZvKYlo2CUI79vXWy');
    expect((await post('billing', stripeEvent, { 'stripe-signature': signature })).status).toBe(202);
    const replay = await post('billing', stripeEvent, { 'stripe-signature': signature });
    expect(replay.status).toBe(409);
    expect(await errorCode(replay)).toBe('webhook_replayed');
  });

  it('accepts a v1 by the previous secret while a rotation is under way, and any of several v1', async () => {
    const t0 = now() - 10; // distinct from t1 and from the other tests' times: the replay key is t and the body
    const old = `t=${t0},v1=${hmac('sha256', SECRET.STRIPE_OLD, `${t0}.${stripeEvent}`, 'hex')}`;
    expect((await post('billing', stripeEvent, { 'stripe-signature': old })).status).toBe(202);
    const t1 = now() - 20;
    const both = `t=${t1},v1=${'0'.repeat(64)},v1=${hmac('sha256', SECRET.STRIPE, `${t1}.${stripeEvent}`, 'hex')}`;
    expect((await post('billing', stripeEvent, { 'stripe-signature': both })).status).toBe(202);
  });

  it('refuses a timestamp outside the 300 s tolerance, a wrong signature and a missing header', async () => {
    const stale = await post('billing', stripeEvent, { 'stripe-signature': header(stripeEvent, SECRET.STRIPE, now() - 301) });
    expect(stale.status).toBe(401);
    expect(await errorCode(stale)).toBe('timestamp_out_of_tolerance');
    const forged = await post('billing', stripeEvent, { 'stripe-signature': header(stripeEvent, 'whsec_wrong_0123456789abcdef') });
    expect(await errorCode(forged)).toBe('signature_invalid');
    expect(await errorCode(await post('billing', stripeEvent, {}))).toBe('signature_missing');
  });
});

describe('HubSpot webhooks (v3 signature)', () => {
  const events = JSON.stringify([
    {
      eventId: 100,
      subscriptionId: 1234,
      portalId: 62515,
      appId: 54321,
      occurredAt: Date.now(),
      subscriptionType: 'contact.propertyChange',
      attemptNumber: 0,
      objectId: 123,
      propertyName: 'email',
      propertyValue: 'jenny.rosen@example.com',
      changeSource: 'CRM',
    },
  ]);
  // HubSpot signs the URL configured in the app, which the hub behind a proxy does not see.
  const sign = (timestamp: number, secret = SECRET.HUBSPOT) =>
    hmac('sha256', secret, `POST${'https://hub.example.com/webhooks/crm'}${events}${timestamp}`, 'base64');

  it('accepts method + URI + body + timestamp signed with the client secret, once', async () => {
    const timestamp = Date.now();
    const headers = { 'x-hubspot-signature-v3': sign(timestamp), 'x-hubspot-request-timestamp': String(timestamp) };
    expect((await post('crm', events, headers)).status).toBe(202);
    expect(await errorCode(await post('crm', events, headers))).toBe('webhook_replayed');
  });

  it('refuses a request older than 5 minutes and a signature by another secret', async () => {
    const old = Date.now() - 301_000;
    const stale = await post('crm', events, { 'x-hubspot-signature-v3': sign(old), 'x-hubspot-request-timestamp': String(old) });
    expect(await errorCode(stale)).toBe('timestamp_out_of_tolerance');
    const timestamp = Date.now();
    const forged = await post('crm', events, {
      'x-hubspot-signature-v3': sign(timestamp, 'another-secret-0123456789'),
      'x-hubspot-request-timestamp': String(timestamp),
    });
    expect(await errorCode(forged)).toBe('signature_invalid');
  });
});

const zendeskEvent = JSON.stringify({
  type: 'zen:event-type:user.created',
  account_id: 22129848,
  id: 'cbe4028c-7239-495d-b020-f22348516046',
  time: '2024-05-01T10:00:00Z',
  zendesk_event_version: '2022-11-06',
  subject: 'zen:user:23',
  detail: {
    id: '23',
    email: 'jenny.rosen@example.com',
    name: 'Jenny Rosen',
    role: 'end-user',
    created_at: '2024-05-01T10:00:00Z',
    updated_at: '2024-05-01T10:00:00Z',
    external_id: null,
    // Zendesk event payloads carry ids as strings.
    organization_id: '6607619104125',
  },
  event: {},
});
const zendeskOrganizationEvent = JSON.stringify({
  type: 'zen:event-type:organization.created',
  account_id: 22129848,
  subject: 'zen:organization:6607619104125',
  id: 'a540ab78-88f2-49e1-93a7-16152a6f782c',
  time: '2024-05-01T09:00:00Z',
  zendesk_event_version: '2022-06-20',
  detail: {
    created_at: '2024-05-01T09:00:00Z',
    external_id: null,
    group_id: null,
    id: '6607619104125',
    name: 'Rosen Design Ltd',
    shared_comments: false,
    shared_tickets: false,
    updated_at: '2024-05-01T09:00:00Z',
  },
  event: {},
});

describe('Zendesk webhooks (X-Zendesk-Webhook-Signature)', () => {
  const headers = (timestamp: string, secret = SECRET.ZENDESK) => ({
    'x-zendesk-webhook-signature': hmac('sha256', secret, `${timestamp}${zendeskEvent}`, 'base64'),
    'x-zendesk-webhook-signature-timestamp': timestamp,
  });

  it('accepts timestamp + body signed with the webhook secret, once', async () => {
    const signed = headers(new Date().toISOString());
    expect((await post('support', zendeskEvent, signed)).status).toBe(202);
    expect(await errorCode(await post('support', zendeskEvent, signed))).toBe('webhook_replayed');
  });

  it('accepts an organization event, signed the same way', async () => {
    const timestamp = new Date().toISOString();
    const signed = {
      'x-zendesk-webhook-signature': hmac('sha256', SECRET.ZENDESK, `${timestamp}${zendeskOrganizationEvent}`, 'base64'),
      'x-zendesk-webhook-signature-timestamp': timestamp,
    };
    expect((await post('support', zendeskOrganizationEvent, signed)).status).toBe(202);
  });

  it('refuses a stale timestamp and a wrong secret', async () => {
    expect(await errorCode(await post('support', zendeskEvent, headers(new Date(Date.now() - 600_000).toISOString())))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(await errorCode(await post('support', zendeskEvent, headers(new Date().toISOString(), 'wrong-secret-0123456789')))).toBe(
      'signature_invalid',
    );
  });
});

const intercomNotification = JSON.stringify({
  type: 'notification_event',
  app_id: 'abc123',
  data: {
    type: 'notification_event_data',
    item: {
      type: 'contact',
      id: '6570f1c3d1b8a2e5f7c3a1b2',
      workspace_id: 'abc123',
      external_id: 'u-42',
      role: 'user',
      email: 'jenny.rosen@example.com',
      phone: '+447911123456',
      name: 'Jenny Rosen',
      created_at: 1700000000,
      updated_at: 1700000500,
      unsubscribed_from_emails: true,
      location: { type: 'location', country: 'United Kingdom', region: 'England', city: 'London' },
      companies: {
        type: 'list',
        data: [{ type: 'company', id: '6570f1c3d1b8a2e5f7c3c0c1', url: '/companies/6570f1c3d1b8a2e5f7c3c0c1' }],
        url: '/contacts/6570f1c3d1b8a2e5f7c3a1b2/companies',
        total_count: 1,
        has_more: false,
      },
    },
  },
  links: {},
  id: 'notif_b2b6c5c0-1c0b-11ee-be56-0242ac120002',
  topic: 'contact.user.created',
  delivery_status: 'pending',
  delivery_attempts: 1,
  created_at: 1700000500,
});

const intercomCompanyNotification = JSON.stringify({
  type: 'notification_event',
  app_id: 'abc123',
  data: {
    type: 'notification_event_data',
    item: {
      type: 'company',
      id: '6570f1c3d1b8a2e5f7c3c0c1',
      company_id: 'rosen-design',
      app_id: 'abc123',
      name: 'Rosen Design Ltd',
      remote_created_at: 1699990000,
      created_at: 1699990000,
      updated_at: 1699990000,
      monthly_spend: 49,
      session_count: 0,
      user_count: 1,
      size: 4,
      website: 'https://www.rosendesign.example',
      industry: 'Design',
      plan: { type: 'plan', id: '269', name: 'Starter' },
      custom_attributes: {},
      tags: { type: 'tag.list', tags: [] },
      segments: { type: 'segment.list', segments: [] },
    },
  },
  links: {},
  id: 'notif_c0c1a2b3-1c0b-11ee-be56-0242ac120002',
  topic: 'company.created',
  delivery_status: 'pending',
  delivery_attempts: 1,
  created_at: 1699990000,
});

describe('Intercom webhooks (X-Hub-Signature: sha1=…)', () => {
  it('accepts the body signed with HMAC-SHA1 of the client secret and refuses any other', async () => {
    const good = `sha1=${hmac('sha1', SECRET.INTERCOM, intercomNotification, 'hex')}`;
    expect((await post('messaging', intercomNotification, { 'x-hub-signature': good })).status).toBe(202);
    const bad = `sha1=${hmac('sha1', 'wrong-secret-0123456789', intercomNotification, 'hex')}`;
    expect(await errorCode(await post('messaging', intercomNotification, { 'x-hub-signature': bad }))).toBe('signature_invalid');
    expect(await errorCode(await post('messaging', intercomNotification, {}))).toBe('signature_missing');
  });

  it('accepts a company notification, signed the same way', async () => {
    const good = `sha1=${hmac('sha1', SECRET.INTERCOM, intercomCompanyNotification, 'hex')}`;
    expect((await post('messaging', intercomCompanyNotification, { 'x-hub-signature': good })).status).toBe(202);
  });
});

describe('Mailchimp webhooks (a token in the URL)', () => {
  const form = new URLSearchParams({
    type: 'subscribe',
    fired_at: '2024-06-01 10:00:00',
    'data[id]': '8a25ff1d98',
    'data[list_id]': 'a6b5da1054',
    'data[email]': 'jenny.rosen@example.com',
    'data[email_type]': 'html',
    'data[merges][EMAIL]': 'jenny.rosen@example.com',
    'data[merges][FNAME]': 'Jenny',
    'data[merges][LNAME]': 'Rosen',
    'data[ip_opt]': '10.20.10.30',
  }).toString();
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

  it('answers the GET that validates the URL, with the token only', async () => {
    expect((await t.hub.app.request(`/webhooks/newsletter?secret=${SECRET.MAILCHIMP}`)).status).toBe(200);
    const wrong = await t.hub.app.request('/webhooks/newsletter?secret=not-the-token');
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe('signature_invalid');
  });

  it('accepts a form-encoded post with the token and refuses one without', async () => {
    expect((await post('newsletter', form, formHeaders, `?secret=${SECRET.MAILCHIMP}`)).status).toBe(202);
    expect(await errorCode(await post('newsletter', form, formHeaders))).toBe('signature_missing');
  });
});

describe('default mappings', () => {
  it('map each vendor’s documented payload into one golden record, with consent from Intercom and Mailchimp', async () => {
    await t.settle();
    const { profiles } = await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?email=jenny.rosen@example.com');
    expect(profiles).toHaveLength(1);
    const profile = await t.json('GET', `/profiles/${profiles[0]?.id}`);
    expect(profile.name).toMatchObject({ given: 'Jenny', family: 'Rosen' });
    expect(profile.phones).toContain('+447911123456');
    expect(profile.externalIds).toMatchObject({
      stripe: 'cus_NffrFeUfNV2Hib',
      zendesk: '23',
      intercom: '6570f1c3d1b8a2e5f7c3a1b2',
      mailchimp: '8a25ff1d98',
    });
    expect(profile.addresses[0]).toMatchObject({ line1: '1 High Street', city: 'London', postalCode: 'SW1A 1AA' });
    // Intercom's opt-out (Nov 2023) is older than Mailchimp's subscription (June 2024).
    expect(profile.consent).toContainEqual(expect.objectContaining({ purpose: 'marketing', status: 'granted' }));
    const { ledger } = await t.json<{ ledger: { source: string; status: string }[] }>('GET', `/profiles/${profiles[0]?.id}/consent`);
    expect(ledger.map((e) => `${e.source}:${e.status}`).sort()).toEqual(['messaging:denied', 'newsletter:granted']);
  });

  it('make accounts of Zendesk organization events and Intercom company notifications, with the person a member of each', async () => {
    const accountsBy = async (externalId: string) =>
      (await t.json<{ accounts: Record<string, any>[] }>('GET', `/accounts?externalId=${externalId}`)).accounts;
    const [organization] = await accountsBy('zendesk_organization:6607619104125');
    expect(organization).toMatchObject({ name: 'Rosen Design Ltd' });
    expect(organization?.['sources']).toContainEqual({ source: 'support', object: 'organization', recordId: '6607619104125' });
    const [company] = await accountsBy('intercom_company:6570f1c3d1b8a2e5f7c3c0c1');
    expect(company).toMatchObject({ name: 'Rosen Design Ltd', domains: ['rosendesign.example'], industry: 'Design' });
    // An organization has an id and a name, as a user has: it still makes no person.
    expect((await t.json<{ profiles: unknown[] }>('GET', '/profiles?externalId=zendesk:6607619104125')).profiles).toEqual([]);

    const { profiles } = await t.json<{ profiles: { id: string }[] }>('GET', '/profiles?email=jenny.rosen@example.com');
    const { accounts } = await t.json<{ accounts: Record<string, any>[] }>('GET', `/profiles/${profiles[0]?.id}/accounts`);
    expect(accounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          accountId: organization?.['id'],
          ref: { externalIds: { zendesk_organization: '6607619104125' } },
          source: 'support',
          validTo: null,
        }),
        expect.objectContaining({
          accountId: company?.['id'],
          ref: { externalIds: { intercom_company: '6570f1c3d1b8a2e5f7c3c0c1' } },
          source: 'messaging',
          validTo: null,
        }),
      ]),
    );
    expect(accounts).toHaveLength(2);
  });

  it('keep HubSpot events, which carry ids only, and quarantine them when the objects cannot be fetched', async () => {
    // This source has a webhook secret but no access token to read the contacts the events name.
    const { items } = await t.json<{ items: { source: string; code: string; message: string }[] }>('GET', '/quarantine?source=crm');
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.code === 'fetch_failed')).toBe(true);
    expect(items[0]?.message).toContain('accessToken');
  });
});
