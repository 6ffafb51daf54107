import { verify } from '@octokit/webhooks-methods';
import type { ConnectorType } from '../types.ts';

export interface WebhookConfig {
  secret: string;
}

/** A generic source that POSTs JSON signed GitHub-style: `X-Hub-Signature-256: sha256=<hex>`. */
export const webhookConnector: ConnectorType<WebhookConfig> = {
  type: 'webhook',
  configSchema: {
    type: 'object',
    properties: { secret: { type: 'string', minLength: 16 } },
    required: ['secret'],
  },
  async verifyWebhook(config, request) {
    // Fail closed: a source without a secret accepts nothing.
    if (!config.secret) return { ok: false, code: 'secret_missing', message: 'the source has no secret configured' };
    const signature = request.headers.get('x-hub-signature-256');
    if (!signature) return { ok: false, code: 'signature_missing', message: 'X-Hub-Signature-256 header is missing' };
    // verify() hashes the string as UTF-8, which reproduces the received bytes exactly because the
    // body was decoded strictly; it compares with timingSafeEqual after a length check.
    const valid = request.body !== '' && (await verify(config.secret, request.body, signature));
    return valid ? { ok: true } : { ok: false, code: 'signature_invalid', message: 'X-Hub-Signature-256 does not match the body' };
  },
};
