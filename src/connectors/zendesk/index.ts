import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PulledPage } from '../types.ts';

export interface ZendeskConfig {
  /** The webhook's signing secret, shown in Zendesk's admin centre; without it, webhooks are refused. */
  secret?: string;
  /** `https://<subdomain>.zendesk.com`, or `baseUrl`. */
  subdomain?: string;
  baseUrl?: string;
  /** An agent's email and an API token: Zendesk's token authentication. */
  email?: string;
  apiToken?: string;
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
      ...secretProperties,
      toleranceSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 300 },
      subdomain: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
      email: { type: 'string', minLength: 3 },
      apiToken: { type: 'string', minLength: 8 },
    },
    anyOf: [{ required: ['secret'] }, { required: ['apiToken', 'email'] }],
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
    const signed = `${timestamp}${request.body}`;
    const expected = secrets.map((secret) => hmac('sha256', secret, signed, 'base64'));
    if (!anyMatch([signature], expected)) return mismatch('X-Zendesk-Webhook-Signature');
    // The key is what was signed, not the headers' text: the signature covers the timestamp and the
    // body run together, so the boundary between them could move without changing it.
    return { ok: true, replayKey: createHash('sha256').update(signed, 'utf8').digest('hex') };
  },
  /**
   * Users, by the incremental user export with cursor pagination (`/api/v2/incremental/users/cursor.json`):
   * from `start_time=0` on a full pull, then from the `after_cursor` saved, which Zendesk keeps
   * valid to continue later. Then organizations, by the incremental organization export, which
   * Zendesk offers time-based only (`/api/v2/incremental/organizations.json?start_time=`): from 0,
   * then from the `end_time` of the last page. Zendesk allows 10 export requests a minute, both
   * exports together: set `rateLimit: 0.16`.
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    if (!config.apiToken || !config.email) throw new Error('the source has no email and apiToken: it cannot pull from Zendesk');
    const baseUrl = config.baseUrl ?? (config.subdomain ? `https://${config.subdomain}.zendesk.com` : undefined);
    if (!baseUrl) throw new Error('the source has neither subdomain nor baseUrl');
    const basic = Buffer.from(`${config.email}/token:${config.apiToken}`).toString('base64');
    const client = context.client({ baseUrl, headers: { authorization: `Basic ${basic}` } });
    // A cursor saved before organizations were pulled holds the users' place alone: `{afterCursor}`.
    const cursor: ZendeskCursor = { ...(context.cursor as ZendeskCursor | null) };
    for (;;) {
      const { body } = await client.request<{ users: unknown[]; after_cursor: string | null; end_of_stream: boolean }>({
        path: '/api/v2/incremental/users/cursor.json',
        query: cursor.afterCursor ? { cursor: cursor.afterCursor } : { start_time: 0 },
      });
      if (body.after_cursor) cursor.afterCursor = body.after_cursor;
      yield { records: body.users, cursor: { ...cursor } };
      if (body.end_of_stream || !body.after_cursor) break;
    }
    let startTime = cursor.organizations?.startTime ?? 0;
    for (;;) {
      const { body } = await client.request<{ organizations: unknown[]; end_time: number | null; end_of_stream: boolean }>({
        path: '/api/v2/incremental/organizations.json',
        query: { start_time: startTime },
      });
      const next = body.end_time ?? startTime;
      cursor.organizations = { startTime: next };
      yield { records: body.organizations, cursor: { ...cursor } };
      // A page that does not move the time on (a thousand organizations changed in one second) would
      // be asked for again for ever: the run ends, and the next one asks from the same time.
      if (body.end_of_stream || next <= startTime) return;
      startTime = next;
    }
  },
};

/** Where a pull resumes: the users' export cursor, and the time the organizations' export reached. */
interface ZendeskCursor {
  afterCursor?: string;
  organizations?: { startTime: number };
}
