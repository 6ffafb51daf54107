import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { webhookRequest } from '../signing/vectors.ts';
import { stripeConnector } from './index.ts';

const stripe = new Stripe('sk_test_unused');
const payload = '{"id":"evt_1","object":"event","type":"customer.created"}';
const config = { secret: 'whsec_new_0123456789abcdef', previousSecrets: ['whsec_old_0123456789abcdef'] };
const signed = (secret: string, timestamp = Math.floor(Date.now() / 1000)) =>
  webhookRequest(
    'https://hub.example.com/webhooks/billing',
    { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }) },
    payload,
  );

describe('Stripe webhook signatures (vectors from the Stripe SDK)', () => {
  it('accepts the current and the previous secret, with a replay key; refuses others and stale ones', async () => {
    expect(await stripeConnector.verifyWebhook(config, signed(config.secret))).toMatchObject({ ok: true, replayKey: expect.any(String) });
    expect(await stripeConnector.verifyWebhook(config, signed('whsec_old_0123456789abcdef'))).toMatchObject({ ok: true });
    expect(await stripeConnector.verifyWebhook(config, signed('whsec_someone_else_01234'))).toMatchObject({ code: 'signature_invalid' });
    expect(await stripeConnector.verifyWebhook(config, signed(config.secret, Math.floor(Date.now() / 1000) - 301))).toMatchObject({
      code: 'timestamp_out_of_tolerance',
    });
    expect(await stripeConnector.verifyWebhook({ apiKey: 'sk_test_x' }, signed(config.secret))).toMatchObject({ code: 'secret_missing' });
  });
});
