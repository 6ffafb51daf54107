import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PulledPage } from '../types.ts';

export interface StripeConfig {
  /** The webhook endpoint's signing secret (`whsec_…`); without it, webhooks are refused. */
  secret?: string;
  /** Secrets still accepted while a rotation is under way. */
  previousSecrets?: string[];
  /** A secret or restricted key (`sk_…`, `rk_…`) that may read customers and events; needed to pull. */
  apiKey?: string;
  baseUrl?: string;
}

/** The API version pulls are made with, so the payloads the default mapping reads stay as they are. */
export const STRIPE_API_VERSION = '2024-06-20';

type StripeCursor =
  /** A full pull: listing customers, after `startingAfter`; events from `since` follow. */
  | { phase: 'customers'; startingAfter?: string | undefined; since: number }
  /** Incremental: customer events created since `since` (newest first, after `startingAfter`). */
  | { phase: 'events'; since: number; startingAfter?: string | undefined; newest?: number };

interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
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
      ...secretProperties,
      apiKey: { type: 'string', minLength: 8 },
    },
    anyOf: [{ required: ['secret'] }, { required: ['apiKey'] }],
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
    const signed = `${t}.${request.body}`;
    const expected = secrets.map((secret) => hmac('sha256', secret, signed, 'hex'));
    if (!anyMatch(given, expected)) return mismatch('Stripe-Signature');
    // The key is what was signed, not the header's text: the same delivery with its items reordered
    // or padded, a `v0=` or a junk `v1=` added, or one of two rotation `v1`s dropped still verifies,
    // and must still be refused as a replay.
    return { ok: true, replayKey: createHash('sha256').update(signed, 'utf8').digest('hex') };
  },
  /**
   * A full pull lists customers (cursor pagination with `starting_after`); from then on, customer
   * events since the last one seen (`GET /v1/events?type=customer.*`), which also carry deletions.
   * Stripe keeps events for 30 days: a source not synced for longer needs a full sync.
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    if (!config.apiKey) throw new Error('the source has no apiKey: it cannot pull from Stripe');
    const client = context.client({
      baseUrl: config.baseUrl ?? 'https://api.stripe.com',
      headers: { authorization: `Bearer ${config.apiKey}`, 'stripe-version': STRIPE_API_VERSION },
    });
    const cursor = context.cursor as StripeCursor | null;
    if (!cursor || cursor.phase === 'customers') {
      const since = cursor?.since ?? Math.floor(context.startedAt.getTime() / 1000);
      let after = cursor?.startingAfter;
      for (;;) {
        const { body } = await client.request<StripeList<{ id: string }>>({
          path: '/v1/customers',
          query: { limit: 100, starting_after: after },
        });
        after = body.data.at(-1)?.id;
        const more = body.has_more && after !== undefined;
        const next: StripeCursor = more ? { phase: 'customers', startingAfter: after, since } : { phase: 'events', since };
        yield { records: body.data, cursor: next };
        if (!more) return;
      }
    }
    const { since } = cursor;
    let { startingAfter: after, newest = since } = cursor;
    for (;;) {
      const { body } = await client.request<StripeList<{ id: string; created: number }>>({
        path: '/v1/events',
        // gte, not gt: an event of the same second seen after the last run is fetched; one seen twice is unchanged.
        query: { limit: 100, type: 'customer.*', 'created[gte]': since, starting_after: after },
      });
      for (const event of body.data) newest = Math.max(newest, event.created);
      after = body.data.at(-1)?.id;
      const more = body.has_more && after !== undefined;
      const next: StripeCursor = more ? { phase: 'events', since, startingAfter: after, newest } : { phase: 'events', since: newest };
      yield { records: body.data, cursor: next };
      if (!more) return;
    }
  },
};
