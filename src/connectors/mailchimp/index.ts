import path from 'node:path';
import { parse } from 'qs';
import { anyMatch, noSecret, secretsOf } from '../signing/index.ts';
import type { ConnectorType, VerifyResult, WebhookRequest } from '../types.ts';

export interface MailchimpConfig {
  /** The token in the webhook URL's query: `…/webhooks/<source>?secret=<token>`. */
  secret: string;
  previousSecrets?: string[];
}

/**
 * Mailchimp signs nothing: the webhook URL carries a secret token, compared in constant time. It
 * checks a URL with a GET before it sends to it, and posts form-encoded bodies
 * (`type=subscribe&data[merges][FNAME]=…`), parsed here into nested objects.
 */
export const mailchimpConnector: ConnectorType<MailchimpConfig> = {
  type: 'mailchimp',
  defaultMappings: path.join(import.meta.dirname, 'mappings'),
  configSchema: {
    type: 'object',
    properties: {
      secret: { type: 'string', minLength: 16 },
      previousSecrets: { type: 'array', items: { type: 'string', minLength: 16 } },
    },
    required: ['secret'],
  },
  async verifyWebhook(config, request) {
    return checkToken(config, request);
  },
  answerGet(config, request) {
    return checkToken(config, request);
  },
  parseWebhook(request) {
    return [parse(request.body, { depth: 5, parameterLimit: 1000 })];
  },
};

function checkToken(config: MailchimpConfig, request: WebhookRequest): VerifyResult {
  const secrets = secretsOf(config);
  if (secrets.length === 0) return noSecret;
  const token = request.url.searchParams.get('secret');
  if (!token) return { ok: false, code: 'signature_missing', message: 'the webhook URL carries no ?secret= token' };
  return anyMatch([token], secrets) ? { ok: true } : { ok: false, code: 'signature_invalid', message: 'the ?secret= token does not match' };
}
