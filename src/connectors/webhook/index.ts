import { verify } from '@octokit/webhooks-methods';
import { mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType } from '../types.ts';

export interface WebhookConfig {
  secret: string;
  /** Secrets still accepted while a rotation is under way. */
  previousSecrets?: string[];
}

/**
 * A generic source that POSTs JSON signed GitHub-style: `X-Hub-Signature-256: sha256=<hex>`, the
 * HMAC-SHA256 of the body. The scheme carries no timestamp, so there is nothing to check a replay
 * against. While a secret is rotated, a body signed with any of `previousSecrets` passes too.
 */
export const webhookConnector: ConnectorType<WebhookConfig> = {
  type: 'webhook',
  configSchema: {
    type: 'object',
    properties: { ...secretProperties },
    required: ['secret'],
  },
  async verifyWebhook(config, request) {
    // Fail closed: a source without a secret accepts nothing.
    const secrets = secretsOf(config);
    if (secrets.length === 0) return noSecret;
    const signature = request.headers.get('x-hub-signature-256');
    if (!signature) return missing('X-Hub-Signature-256');
    // verify() hashes the string as UTF-8, which reproduces the received bytes because the body was
    // decoded strictly, and compares with timingSafeEqual after a length check. Every secret is
    // tried, so the time taken does not say which one matched.
    if (request.body === '') return mismatch('X-Hub-Signature-256');
    const results = await Promise.all(secrets.map((secret) => verify(secret, request.body, signature)));
    return results.includes(true) ? { ok: true } : mismatch('X-Hub-Signature-256');
  },
};
