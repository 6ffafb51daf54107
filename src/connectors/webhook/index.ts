import { anyMatch, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
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
    // The whole header is compared, prefix and all, as @octokit/webhooks-methods' verify() does; the
    // string is hashed as UTF-8, which reproduces the received bytes because the body was decoded
    // strictly. An empty body is refused, as verify() refused it.
    const expected = secrets.map((secret) => `sha256=${hmac('sha256', secret, request.body, 'hex')}`);
    return request.body !== '' && anyMatch([signature], expected) ? { ok: true } : mismatch('X-Hub-Signature-256');
  },
};
