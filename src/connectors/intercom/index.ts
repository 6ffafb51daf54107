import path from 'node:path';
import { anyMatch, hmac, mismatch, missing, noSecret, secretsOf } from '../signing/index.ts';
import type { ConnectorType } from '../types.ts';

export interface IntercomConfig {
  /** The app's client secret, which signs its webhook notifications. */
  secret: string;
  previousSecrets?: string[];
}

/**
 * Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the body with the app's client secret. The
 * scheme carries no timestamp, so there is nothing to check a replay against.
 */
export const intercomConnector: ConnectorType<IntercomConfig> = {
  type: 'intercom',
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
    const secrets = secretsOf(config);
    if (secrets.length === 0) return noSecret;
    const header = request.headers.get('x-hub-signature');
    if (!header) return missing('X-Hub-Signature');
    if (!header.startsWith('sha1=')) return { ok: false, code: 'signature_invalid', message: 'X-Hub-Signature must be sha1=<hex>' };
    const expected = secrets.map((secret) => hmac('sha1', secret, request.body, 'hex'));
    return anyMatch([header.slice('sha1='.length)], expected) ? { ok: true } : mismatch('X-Hub-Signature');
  },
};
