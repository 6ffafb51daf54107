import { createHash } from 'node:crypto';
import path from 'node:path';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PullContext, PulledPage } from '../types.ts';

export interface HubSpotConfig {
  /** The app's client secret, which signs its webhooks; without it, webhooks are refused. */
  secret?: string;
  /** A private app's access token with `crm.objects.contacts.read`: needed to pull and to fetch what webhooks name. */
  accessToken?: string;
  baseUrl?: string;
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
      ...secretProperties,
      webhookUrl: { type: 'string', pattern: '^https?://' },
      accessToken: { type: 'string', minLength: 8 },
    },
    anyOf: [{ required: ['secret'] }, { required: ['accessToken'] }],
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
  /**
   * A full pull lists contacts (`GET /crm/v3/objects/contacts`, `paging.next.after`); from then on,
   * the search API for contacts modified since the cursor, oldest first. A search stops at 10,000
   * results, so a long one starts again from the last modification time it reached.
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    const client = clientOf(config, context);
    const cursor = context.cursor as HubSpotCursor | null;
    if (!cursor || cursor.phase === 'list') {
      const since = cursor?.since ?? context.startedAt.getTime();
      let after = cursor?.after;
      for (;;) {
        const { body } = await client.request<HubSpotPage>({
          path: '/crm/v3/objects/contacts',
          query: { limit: 100, after, properties: CONTACT_PROPERTIES.join(','), archived: 'false' },
        });
        after = body.paging?.next?.after;
        const next: HubSpotCursor = after ? { phase: 'list', after, since } : { phase: 'search', since };
        yield { records: body.results, cursor: next };
        if (!after) return;
      }
    }
    let { since, after } = cursor;
    let newest = since;
    for (;;) {
      const { body } = await client.request<HubSpotPage>({
        method: 'POST',
        path: '/crm/v3/objects/contacts/search',
        json: {
          filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(since) }] }],
          sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
          properties: CONTACT_PROPERTIES,
          limit: 100,
          ...(after ? { after } : {}),
        },
      });
      for (const contact of body.results) newest = Math.max(newest, Date.parse(contact.updatedAt ?? '') || newest);
      after = body.paging?.next?.after;
      if (after && Number(after) >= SEARCH_LIMIT - 100) {
        // The search will not page past 10,000: start a new one from the newest change seen.
        since = newest;
        after = undefined;
        yield { records: body.results, cursor: { phase: 'search', since } };
        continue;
      }
      const next: HubSpotCursor = after ? { phase: 'search', since, after } : { phase: 'search', since: newest };
      yield { records: body.results, cursor: next };
      if (!after) return;
    }
  },
  /**
   * Webhook events name contacts by `objectId`: read them in batches of 100. A deletion names a
   * contact there is nothing left to read of: it becomes an archived contact, which the default
   * mapping marks deleted.
   */
  async hydrate(config, events, context) {
    const contactEvents = events.flatMap((e) => {
      const event = e as { objectId?: unknown; subscriptionType?: unknown; occurredAt?: unknown };
      return typeof event.subscriptionType === 'string' && event.subscriptionType.startsWith('contact.') && event.objectId !== undefined
        ? [{ id: String(event.objectId), type: event.subscriptionType, at: Number(event.occurredAt) }]
        : [];
    });
    const deleted = contactEvents
      .filter((e) => e.type === 'contact.deletion')
      .map((e) => ({
        id: e.id,
        properties: {},
        archived: true,
        updatedAt: new Date(Number.isFinite(e.at) ? e.at : Date.now()).toISOString(),
      }));
    const gone = new Set(deleted.map((d) => d.id));
    const ids = [...new Set(contactEvents.filter((e) => !gone.has(e.id)).map((e) => e.id))];
    if (ids.length === 0) return deleted;
    const client = clientOf(config, context);
    const contacts: unknown[] = [...deleted];
    for (let i = 0; i < ids.length; i += 100) {
      const { body } = await client.request<{ results: unknown[] }>({
        method: 'POST',
        path: '/crm/v3/objects/contacts/batch/read',
        json: { properties: CONTACT_PROPERTIES, inputs: ids.slice(i, i + 100).map((id) => ({ id })) },
      });
      contacts.push(...body.results);
    }
    return contacts;
  },
};

/** The contact properties the default mapping reads. */
export const CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'company',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'lifecyclestage',
  'hs_email_optout',
  'lastmodifieddate',
];

const SEARCH_LIMIT = 10_000;

type HubSpotCursor =
  | { phase: 'list'; after?: string | undefined; since: number }
  /** Contacts modified at or after `since` (epoch ms), page `after` of the search. */
  | { phase: 'search'; since: number; after?: string | undefined };

interface HubSpotPage {
  results: { id: string; updatedAt?: string }[];
  paging?: { next?: { after: string } };
}

function clientOf(config: HubSpotConfig, context: Pick<PullContext, 'client'>) {
  if (!config.accessToken) throw new Error('the source has no accessToken: it cannot read from HubSpot');
  return context.client({
    baseUrl: config.baseUrl ?? 'https://api.hubapi.com',
    headers: { authorization: `Bearer ${config.accessToken}` },
  });
}
