import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretsOf } from '../signing/index.ts';
import type { ConnectorType } from '../types.ts';

export interface ZendeskConfig {
  /** The webhook's signing secret, shown in Zendesk's admin centre. */
  secret: string;
  previousSecrets?: string[];
  /** Zendesk publishes no tolerance for its timestamp; 5 minutes, as Stripe and HubSpot use. */
  toleranceSeconds: number;
}

/**
 * Zendesk: `X-Zendesk-Webhook-Signature` is the base64 HMAC-SHA256 of
 * `X-Zendesk-Webhook-Signature-Timestamp` (ISO 8601) followed by the body.
 */
export const zendeskConnector: ConnectorType<ZendeskConfig> = {
  type: 'zendesk',
  defaultMappings: path.join(import.meta.dirname, 'mappings'),
  configSchema: {
    type: 'object',
    properties: {
      secret: { type: 'string', minLength: 16 },
      previousSecrets: { type: 'array', items: { type: 'string', minLength: 16 } },
      toleranceSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 300 },
    },
    required: ['secret'],
  },
  async verifyWebhook(config, request) {
    const secrets = secretsOf(config);
    if (secrets.length === 0) return noSecret;
    const signature = request.headers.get('x-zendesk-webhook-signature');
    if (!signature) return missing('X-Zendesk-Webhook-Signature');
    const timestamp = request.headers.get('x-zendesk-webhook-signature-timestamp');
    if (!timestamp) return missing('X-Zendesk-Webhook-Signature-Timestamp');
    const stale = checkTimestamp(
      Date.parse(timestamp) / 1000,
      config.toleranceSeconds ?? 300,
      request.receivedAt,
      'X-Zendesk-Webhook-Signature-Timestamp',
    );
    if (stale) return stale;
    const expected = secrets.map((secret) => hmac('sha256', secret, `${timestamp}${request.body}`, 'base64'));
    if (!anyMatch([signature], expected)) return mismatch('X-Zendesk-Webhook-Signature');
    return { ok: true, replayKey: createHash('sha256').update(`${timestamp}.${signature}`).digest('hex') };
  },
};
