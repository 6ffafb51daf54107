import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretsOf } from '../signing/index.ts';
import type { ConnectorType } from '../types.ts';

export interface StripeConfig {
  /** The endpoint's signing secret (`whsec_…`). */
  secret: string;
  /** Secrets still accepted while a rotation is under way. */
  previousSecrets?: string[];
}

/** Stripe's documented tolerance for `t` in `Stripe-Signature`. */
export const STRIPE_TOLERANCE_SECONDS = 300;

/**
 * Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 of `<t>.<body>`.
 * Stripe sends one `v1` per active secret while an endpoint's secret is being rolled, so any match
 * of any secret we hold passes.
 */
export const stripeConnector: ConnectorType<StripeConfig> = {
  type: 'stripe',
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
    const header = request.headers.get('stripe-signature');
    if (!header) return missing('Stripe-Signature');
    const items = header.split(',').map((item) => {
      const eq = item.indexOf('=');
      return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()] as const;
    });
    const t = items.find(([k]) => k === 't')?.[1];
    const given = items.filter(([k]) => k === 'v1').map(([, v]) => v);
    if (!t || given.length === 0) return { ok: false, code: 'signature_invalid', message: 'Stripe-Signature carries no t or no v1' };
    const stale = checkTimestamp(Number(t), STRIPE_TOLERANCE_SECONDS, request.receivedAt, 'Stripe-Signature t');
    if (stale) return stale;
    const expected = secrets.map((secret) => hmac('sha256', secret, `${t}.${request.body}`, 'hex'));
    if (!anyMatch(given, expected)) return mismatch('Stripe-Signature');
    return { ok: true, replayKey: createHash('sha256').update(header).digest('hex') };
  },
};
