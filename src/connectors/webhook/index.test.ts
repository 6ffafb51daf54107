import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { hmacOf, webhookRequest } from '../signing/vectors.ts';
import { webhookConnector } from './index.ts';

const body = '{"id":"c-1","email":"ada@example.com"}';
const config = { secret: 'webhook-new-secret-0123', previousSecrets: ['webhook-old-secret-0123'] };
/** Signed as GitHub signs, by @octokit/webhooks-methods: not by the code under test. */
const signed = async (secret: string, payload = body) =>
  webhookRequest('https://hub.example.com/webhooks/crm', { 'x-hub-signature-256': await sign(secret, payload) }, payload);

describe('generic webhook signatures (vectors from @octokit/webhooks-methods)', () => {
  it('accepts the current and every previous secret; refuses others, a tampered body, an empty one and none', async () => {
    const rotating = { ...config, previousSecrets: ['webhook-older-secret-012', 'webhook-old-secret-0123'] };
    expect(await webhookConnector.verifyWebhook(config, await signed(config.secret))).toEqual({ ok: true });
    expect(await webhookConnector.verifyWebhook(config, await signed('webhook-old-secret-0123'))).toEqual({ ok: true });
    expect(await webhookConnector.verifyWebhook(rotating, await signed('webhook-old-secret-0123'))).toEqual({ ok: true });
    expect(await webhookConnector.verifyWebhook(config, await signed('someone-else-012345678'))).toMatchObject({
      code: 'signature_invalid',
    });
    const tampered = await signed(config.secret);
    expect(await webhookConnector.verifyWebhook(config, { ...tampered, body: `${body} ` })).toMatchObject({ code: 'signature_invalid' });
    const unsigned = webhookRequest('https://hub.example.com/webhooks/crm', {}, body);
    expect(await webhookConnector.verifyWebhook(config, unsigned)).toMatchObject({ code: 'signature_missing' });
    const empty = webhookRequest('https://hub.example.com/webhooks/crm', { 'x-hub-signature-256': 'sha256=' }, '');
    expect(await webhookConnector.verifyWebhook(config, empty)).toMatchObject({ code: 'signature_invalid' });
  });

  it('compares the whole header: a bare hex digest or another scheme prefix is refused', async () => {
    const { headers } = await signed(config.secret);
    const hex = (headers.get('x-hub-signature-256') as string).slice('sha256='.length);
    for (const header of [hex, `sha1=${hex}`, `SHA256=${hex}`]) {
      const request = webhookRequest('https://hub.example.com/webhooks/crm', { 'x-hub-signature-256': header }, body);
      expect(await webhookConnector.verifyWebhook(config, request), header).toMatchObject({ code: 'signature_invalid' });
    }
  });

  it('fails closed with no secret, even when the header is the signature of an empty secret', async () => {
    const header = `sha256=${hmacOf('sha256', '', body, 'hex')}`;
    const request = webhookRequest('https://hub.example.com/webhooks/crm', { 'x-hub-signature-256': header }, body);
    expect(await webhookConnector.verifyWebhook({ secret: '' }, request)).toMatchObject({ code: 'secret_missing' });
  });
});
