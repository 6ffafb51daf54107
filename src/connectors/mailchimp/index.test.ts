import { describe, expect, it } from 'vitest';
import { webhookRequest } from '../signing/vectors.ts';
import { mailchimpConnector } from './index.ts';

const config = { secret: 'mailchimp-new-token-0123', previousSecrets: ['mailchimp-old-token-0123'] };
const at = (token: string) =>
  webhookRequest(`https://hub.example.com/webhooks/newsletter?secret=${token}`, {}, 'type=subscribe&data[email]=a%40b.example');

describe('Mailchimp webhook tokens', () => {
  it('accepts the current and the previous token, refuses others, and parses the form into nested records', async () => {
    expect(await mailchimpConnector.verifyWebhook(config, at(config.secret))).toEqual({ ok: true });
    expect(await mailchimpConnector.verifyWebhook(config, at('mailchimp-old-token-0123'))).toEqual({ ok: true });
    expect(await mailchimpConnector.verifyWebhook(config, at('guess'))).toMatchObject({ code: 'signature_invalid' });
    expect(mailchimpConnector.answerGet?.(config, at(config.secret))).toEqual({ ok: true });
    expect(mailchimpConnector.parseWebhook?.(at(config.secret))).toEqual([{ type: 'subscribe', data: { email: 'a@b.example' } }]);
  });
});
