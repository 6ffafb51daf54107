import { describe, expect, it } from 'vitest';
import { hmacOf, webhookRequest } from '../signing/vectors.ts';
import { zendeskConnector } from './index.ts';

const body = '{"type":"zen:event-type:user.created","detail":{"id":"23"}}';
const config = { secret: 'zendesk-new-secret-0123', previousSecrets: ['zendesk-old-secret-0123'], toleranceSeconds: 300 };
const signed = (secret: string, at = new Date()) =>
  webhookRequest(
    'https://hub.example.com/webhooks/support',
    {
      'x-zendesk-webhook-signature': hmacOf('sha256', secret, `${at.toISOString()}${body}`, 'base64'),
      'x-zendesk-webhook-signature-timestamp': at.toISOString(),
    },
    body,
  );

describe('Zendesk webhook signatures', () => {
  it('accepts the current and the previous secret, with a replay key; refuses others, stale ones and none', async () => {
    expect(await zendeskConnector.verifyWebhook(config, signed(config.secret))).toMatchObject({ ok: true, replayKey: expect.any(String) });
    expect(await zendeskConnector.verifyWebhook(config, signed('zendesk-old-secret-0123'))).toMatchObject({ ok: true });
    expect(await zendeskConnector.verifyWebhook(config, signed('someone-else-0123456'))).toMatchObject({ code: 'signature_invalid' });
    expect(await zendeskConnector.verifyWebhook(config, signed(config.secret, new Date(Date.now() - 301_000)))).toMatchObject({
      code: 'timestamp_out_of_tolerance',
    });
    expect(await zendeskConnector.verifyWebhook({ toleranceSeconds: 300 }, signed(config.secret))).toMatchObject({
      code: 'secret_missing',
    });
  });
});
