import { describe, expect, it } from 'vitest';
import { hmacOf, webhookRequest } from '../signing/vectors.ts';
import { hubspotConnector, hubspotUri } from './index.ts';

const body = '[{"objectId":123,"subscriptionType":"contact.creation"}]';
const config = { secret: 'hubspot-new-secret-0123', previousSecrets: ['hubspot-old-secret-0123'] };
const url = 'https://hub.example.com/webhooks/crm?x=%3A%2F';
const signed = (secret: string, timestamp = Date.now()) =>
  webhookRequest(
    url,
    {
      // HubSpot signs the URI with %3A and %2F (among others) decoded.
      'x-hubspot-signature-v3': hmacOf('sha256', secret, `POSThttps://hub.example.com/webhooks/crm?x=:/${body}${timestamp}`, 'base64'),
      'x-hubspot-request-timestamp': String(timestamp),
    },
    body,
  );

describe('HubSpot v3 webhook signatures', () => {
  it('decodes the characters HubSpot decodes in the URI', () => {
    expect(hubspotUri('https://x.example/a%3Ab%2Fc%3Fd%40e%21f%24g%27h%28i%29j%2Ak%2Cl%3Bm%20n')).toBe(
      "https://x.example/a:b/c?d@e!f$g'h(i)j*k,l;m%20n",
    );
  });

  it('accepts the current and the previous secret, with a replay key; refuses others and requests over 5 minutes old', async () => {
    expect(await hubspotConnector.verifyWebhook(config, signed(config.secret))).toMatchObject({ ok: true, replayKey: expect.any(String) });
    expect(await hubspotConnector.verifyWebhook(config, signed('hubspot-old-secret-0123'))).toMatchObject({ ok: true });
    expect(await hubspotConnector.verifyWebhook(config, signed('someone-else-0123456'))).toMatchObject({ code: 'signature_invalid' });
    expect(await hubspotConnector.verifyWebhook(config, signed(config.secret, Date.now() - 301_000))).toMatchObject({
      code: 'timestamp_out_of_tolerance',
    });
  });
});
