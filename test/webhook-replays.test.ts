/**
 * A replayed signed webhook is refused however its signature header is rewritten. The replay key is
 * what the vendor signed (Stripe: the timestamp and the body), so reordering, padding or adding items
 * to the header, which all still verify, make no new delivery of an old one.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

const STRIPE_SECRET = 'whsec_replay_0123456789abcdef';
const STRIPE_OLD_SECRET = 'whsec_replay_old_0123456789ab';
const ZENDESK_SECRET = 'zendesk-replay-secret-0123456789';
const HUBSPOT_SECRET = 'hubspot-replay-secret-0123456789';
const HUBSPOT_URL = 'https://hub.example.com/webhooks/crm';

const hmac = (secret: string, data: string, encoding: 'hex' | 'base64') => createHmac('sha256', secret).update(data).digest(encoding);
const now = () => Math.floor(Date.now() / 1000);

function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-replays-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  const write = (name: string, yaml: string) => writeFileSync(path.join(dir, 'connectors', `${name}.yaml`), yaml);
  write('billing', 'type: stripe\nsecret: ${STRIPE_SECRET}\npreviousSecrets: ["${STRIPE_OLD_SECRET}"]\n');
  write('support', 'type: zendesk\nsecret: ${ZENDESK_SECRET}\n');
  write('crm', `type: hubspot\nsecret: \${HUBSPOT_SECRET}\nwebhookUrl: ${HUBSPOT_URL}\n`);
  return dir;
}

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ configDir: workspace(), env: { STRIPE_SECRET, STRIPE_OLD_SECRET, ZENDESK_SECRET, HUBSPOT_SECRET } });
});
afterAll(() => t?.stop());

const post = (source: string, body: string, headers: Record<string, string>) =>
  t.hub.app.request(`/webhooks/${source}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const outcome = async (response: Response) =>
  response.status === 202 ? 202 : `${response.status} ${((await response.json()) as { error: { code: string } }).error.code}`;

let events = 0;
const stripeEvent = () =>
  JSON.stringify({ id: `evt_replay_${++events}`, object: 'event', type: 'customer.updated', data: { object: { id: 'cus_1' } } });

describe('Stripe replays', () => {
  const rewrites: [string, (t: number, v1: string) => string][] = [
    ['v1 before t', (ts, v1) => `v1=${v1},t=${ts}`],
    ['spaces after commas and at the end', (ts, v1) => `t=${ts}, v1=${v1}   `],
    ['spaces around every item', (ts, v1) => `  t=${ts} ,  v1=${v1} `],
    ['an extra v0 scheme', (ts, v1) => `t=${ts},v1=${v1},v0=${'ab'.repeat(32)}`],
    ['an extra v0 first', (ts, v1) => `v0=${'cd'.repeat(32)},t=${ts},v1=${v1}`],
    ['a junk v1 beside the real one', (ts, v1) => `t=${ts},v1=${'0'.repeat(64)},v1=${v1}`],
    ['the real v1 twice', (ts, v1) => `t=${ts},v1=${v1},v1=${v1}`],
  ];

  for (const [name, rewrite] of rewrites) {
    it(`refuses a replay whose Stripe-Signature has ${name}`, async () => {
      const body = stripeEvent();
      const ts = now();
      const v1 = hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex');
      expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${v1}` }))).toBe(202);
      expect(await outcome(await post('billing', body, { 'stripe-signature': rewrite(ts, v1) }))).toBe('409 webhook_replayed');
    });
  }

  it('stores once a delivery sent five times at once, with unsigned-replay neighbours in the same commit, and refuses the rest', async () => {
    const body = stripeEvent();
    const ts = now();
    const v1 = hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex');
    const other = stripeEvent();
    const otherV1 = hmac(STRIPE_SECRET, `${ts}.${other}`, 'hex');
    const outcomes = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) =>
        post('billing', body, { 'stripe-signature': i % 2 ? `v1=${v1},t=${ts}` : `t=${ts},v1=${v1}` }),
      ),
      post('billing', other, { 'stripe-signature': `t=${ts},v1=${otherV1}` }),
    ]).then((responses) => Promise.all(responses.map(outcome)));
    expect(outcomes.slice(0, 5).sort()).toEqual([
      202,
      '409 webhook_replayed',
      '409 webhook_replayed',
      '409 webhook_replayed',
      '409 webhook_replayed',
    ]);
    expect(outcomes[5]).toBe(202);
    const id = (JSON.parse(body) as { id: string }).id;
    expect(await t.count(`raw_records where payload->>'id' = '${id}'`)).toBe(1);
  });

  it('refuses a replay of a delivery rewritten first and sent plainly after', async () => {
    const body = stripeEvent();
    const ts = now();
    const v1 = hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex');
    expect(await outcome(await post('billing', body, { 'stripe-signature': `v0=${'ef'.repeat(32)}, v1=${v1} ,t=${ts}` }))).toBe(202);
    expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${v1}` }))).toBe('409 webhook_replayed');
  });

  it('refuses a replay of a rotation delivery that keeps only one of its two v1', async () => {
    const body = stripeEvent();
    const ts = now();
    const current = hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex');
    const old = hmac(STRIPE_OLD_SECRET, `${ts}.${body}`, 'hex');
    expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${current},v1=${old}` }))).toBe(202);
    expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${old}` }))).toBe('409 webhook_replayed');
    expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${current}` }))).toBe('409 webhook_replayed');
  });

  it('accepts the same body signed at another timestamp, as Stripe signs each retry anew', async () => {
    const body = stripeEvent();
    const ts = now();
    expect(
      await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v1=${hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex')}` })),
    ).toBe(202);
    const later = ts - 1;
    const again = `t=${later},v1=${hmac(STRIPE_SECRET, `${later}.${body}`, 'hex')}`;
    expect(await outcome(await post('billing', body, { 'stripe-signature': again }))).toBe(202);
  });

  it('refuses a header that carries the signature only under v0: v1 alone is checked', async () => {
    const body = stripeEvent();
    const ts = now();
    const v1 = hmac(STRIPE_SECRET, `${ts}.${body}`, 'hex');
    expect(await outcome(await post('billing', body, { 'stripe-signature': `t=${ts},v0=${v1}` }))).toBe('401 signature_invalid');
  });
});

describe('Zendesk and HubSpot replays', () => {
  it('refuses a Zendesk delivery sent again with its headers padded', async () => {
    const body = JSON.stringify({ type: 'zen:event-type:user.updated', detail: { id: `${++events}`, email: 'replay@example.com' } });
    const timestamp = new Date().toISOString();
    const signature = hmac(ZENDESK_SECRET, `${timestamp}${body}`, 'base64');
    const headers = { 'x-zendesk-webhook-signature': signature, 'x-zendesk-webhook-signature-timestamp': timestamp };
    expect(await outcome(await post('support', body, headers))).toBe(202);
    const padded = { 'x-zendesk-webhook-signature': ` ${signature} `, 'x-zendesk-webhook-signature-timestamp': `${timestamp}  ` };
    expect(await outcome(await post('support', body, padded))).toBe('409 webhook_replayed');
  });

  it('refuses a HubSpot delivery sent again with its headers padded', async () => {
    const body = JSON.stringify([{ eventId: ++events, subscriptionType: 'contact.creation', objectId: 7, occurredAt: Date.now() }]);
    const timestamp = String(Date.now());
    const signature = hmac(HUBSPOT_SECRET, `POST${HUBSPOT_URL}${body}${timestamp}`, 'base64');
    const headers = { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp };
    expect(await outcome(await post('crm', body, headers))).toBe(202);
    const padded = { 'x-hubspot-signature-v3': `${signature}\t`, 'x-hubspot-request-timestamp': ` ${timestamp}` };
    expect(await outcome(await post('crm', body, padded))).toBe('409 webhook_replayed');
  });
});
