import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretsOf } from '../signing/index.ts';
import type { ConnectorType } from '../types.ts';

export interface HubSpotConfig {
  /** The app's client secret, which signs its webhooks. */
  secret: string;
  previousSecrets?: string[];
  /**
   * The webhook URL exactly as configured in HubSpot, which signs it: behind a proxy or a TLS
   * terminator the URL the hub sees differs. Default: the URL as received.
   */
  webhookUrl?: string;
}

export const HUBSPOT_TOLERANCE_SECONDS = 300;

/** HubSpot signs the URI with these characters decoded (its v3 documentation lists them). */
const DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function hubspotUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (code) => DECODED[code.toUpperCase()] ?? code);
}

/**
 * HubSpot v3: `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256 of method + URI + body +
 * `X-HubSpot-Request-Timestamp` (milliseconds), refused when the timestamp is over 5 minutes old.
 */
export const hubspotConnector: ConnectorType<HubSpotConfig> = {
  type: 'hubspot',
  defaultMappings: path.join(import.meta.dirname, 'mappings'),
  configSchema: {
    type: 'object',
    properties: {
      secret: { type: 'string', minLength: 16 },
      previousSecrets: { type: 'array', items: { type: 'string', minLength: 16 } },
      webhookUrl: { type: 'string', pattern: '^https?://' },
    },
    required: ['secret'],
  },
  async verifyWebhook(config, request) {
    const secrets = secretsOf(config);
    if (secrets.length === 0) return noSecret;
    const signature = request.headers.get('x-hubspot-signature-v3');
    if (!signature) return missing('X-HubSpot-Signature-v3');
    const timestamp = request.headers.get('x-hubspot-request-timestamp');
    if (!timestamp) return missing('X-HubSpot-Request-Timestamp');
    const stale = checkTimestamp(Number(timestamp) / 1000, HUBSPOT_TOLERANCE_SECONDS, request.receivedAt, 'X-HubSpot-Request-Timestamp');
    if (stale) return stale;
    const source = `${request.method}${hubspotUri(config.webhookUrl ?? request.url.href)}${request.body}${timestamp}`;
    const expected = secrets.map((secret) => hmac('sha256', secret, source, 'base64'));
    if (!anyMatch([signature], expected)) return mismatch('X-HubSpot-Signature-v3');
    return { ok: true, replayKey: createHash('sha256').update(`${timestamp}.${signature}`).digest('hex') };
  },
};
