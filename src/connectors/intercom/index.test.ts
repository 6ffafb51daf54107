import { describe, expect, it } from 'vitest';
import { hmacOf, webhookRequest } from '../signing/vectors.ts';
import { intercomConnector } from './index.ts';

const body = '{"type":"notification_event","topic":"contact.user.created"}';
const config = { secret: 'intercom-new-secret-0123', previousSecrets: ['intercom-old-secret-0123'] };
const signed = (secret: string) =>
  webhookRequest('https://hub.example.com/webhooks/messaging', { 'x-hub-signature': `sha1=${hmacOf('sha1', secret, body, 'hex')}` }, body);

describe('Intercom webhook signatures', () => {
  it('accepts the current and the previous secret; refuses others, a tampered body and none', async () => {
    expect(await intercomConnector.verifyWebhook(config, signed(config.secret))).toEqual({ ok: true });
    expect(await intercomConnector.verifyWebhook(config, signed('intercom-old-secret-0123'))).toEqual({ ok: true });
    expect(await intercomConnector.verifyWebhook(config, signed('someone-else-0123456'))).toMatchObject({ code: 'signature_invalid' });
    const tampered = signed(config.secret);
    expect(await intercomConnector.verifyWebhook(config, { ...tampered, body: `${body} ` })).toMatchObject({ code: 'signature_invalid' });
    expect(await intercomConnector.verifyWebhook({}, signed(config.secret))).toMatchObject({ code: 'secret_missing' });
  });
});
