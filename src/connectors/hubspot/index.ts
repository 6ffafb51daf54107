import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ApiClient } from '../http/client.ts';
import { anyMatch, checkTimestamp, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PullContext, PulledPage, SyncCursor } from '../types.ts';

export interface HubSpotConfig {
  /** The app's client secret, which signs its webhooks; without it, webhooks are refused. */
  secret?: string;
  /**
   * A private app's access token with `crm.objects.contacts.read` (and `crm.objects.companies.read`
   * for companies): needed to pull and to fetch what webhooks name.
   */
  accessToken?: string;
  /** The object types to pull, in order. Default: contacts and companies. */
  objects?: HubSpotObject[];
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
      objects: { type: 'array', items: { enum: ['contacts', 'companies'] }, minItems: 1, uniqueItems: true },
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
    // The key is what was signed, not the headers' text, as for Stripe and Zendesk: one rule for all.
    return { ok: true, replayKey: createHash('sha256').update(source, 'utf8').digest('hex') };
  },
  /**
   * A full pull lists each object type (`GET /crm/v3/objects/<type>`, `paging.next.after`); from
   * then on, the search API for those modified since the cursor, oldest first. A search stops at
   * 10,000 results, so a long one starts again from the last modification time it reached. Each
   * object type keeps its own place in the cursor.
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    const client = clientOf(config, context);
    const cursor = cursorOf(context.cursor);
    for (const type of config.objects ?? DEFAULT_OBJECTS) {
      for await (const page of pullObjects(client, OBJECTS[type], cursor[type], context.startedAt)) {
        cursor[type] = page.cursor;
        yield { records: page.records, cursor: { ...cursor } };
      }
    }
  },
  /**
   * Webhook events name contacts and companies by `objectId`: read them in batches of 100. A
   * deletion names an object there is nothing left to read of: it becomes an archived object,
   * which the default mappings mark deleted.
   */
  async hydrate(config, events, context) {
    const named = events.flatMap((e) => {
      const event = e as { objectId?: unknown; subscriptionType?: unknown; occurredAt?: unknown };
      if (typeof event.subscriptionType !== 'string' || event.objectId === undefined) return [];
      const [kind, change] = event.subscriptionType.split('.');
      const type = EVENT_OBJECTS[kind ?? ''];
      return type ? [{ id: String(event.objectId), type, deletion: change === 'deletion', at: Number(event.occurredAt) }] : [];
    });
    const objects: unknown[] = [];
    for (const type of Object.keys(OBJECTS) as HubSpotObject[]) {
      const spec = OBJECTS[type];
      const ofType = named.filter((e) => e.type === type);
      const deleted = ofType
        .filter((e) => e.deletion)
        .map((e) => ({
          id: e.id,
          // An archived object as the API returns it: its type's default properties, unset.
          properties: Object.fromEntries(spec.identifying.map((p) => [p, null])),
          archived: true,
          updatedAt: new Date(Number.isFinite(e.at) ? e.at : Date.now()).toISOString(),
        }));
      objects.push(...deleted);
      const gone = new Set(deleted.map((d) => d.id));
      const ids = [...new Set(ofType.filter((e) => !gone.has(e.id)).map((e) => e.id))];
      if (ids.length === 0) continue;
      const client = clientOf(config, context);
      for (let i = 0; i < ids.length; i += 100) {
        const { body } = await client.request<{ results: unknown[] }>({
          method: 'POST',
          path: `/crm/v3/objects/${type}/batch/read`,
          json: { properties: spec.properties, inputs: ids.slice(i, i + 100).map((id) => ({ id })) },
        });
        objects.push(...body.results);
      }
    }
    return objects;
  },
};

async function* pullObjects(
  client: ApiClient,
  spec: ObjectSpec,
  cursor: ObjectCursor | undefined,
  startedAt: Date,
): AsyncGenerator<{ records: unknown[]; cursor: ObjectCursor }> {
  if (!cursor || cursor.phase === 'list') {
    const since = cursor?.since ?? startedAt.getTime();
    let after = cursor?.after;
    for (;;) {
      const { body } = await client.request<HubSpotPage>({
        path: `/crm/v3/objects/${spec.type}`,
        query: { limit: 100, after, properties: spec.properties.join(','), archived: 'false' },
      });
      after = body.paging?.next?.after;
      yield { records: body.results, cursor: after ? { phase: 'list', after, since } : { phase: 'search', since } };
      if (!after) return;
    }
  }
  let { since, after } = cursor;
  let newest = since;
  for (;;) {
    const { body } = await client.request<HubSpotPage>({
      method: 'POST',
      path: `/crm/v3/objects/${spec.type}/search`,
      json: {
        filterGroups: [{ filters: [{ propertyName: spec.modified, operator: 'GTE', value: String(since) }] }],
        sorts: [{ propertyName: spec.modified, direction: 'ASCENDING' }],
        properties: spec.properties,
        limit: 100,
        ...(after ? { after } : {}),
      },
    });
    for (const object of body.results) newest = Math.max(newest, Date.parse(object.updatedAt ?? '') || newest);
    after = body.paging?.next?.after;
    if (after && Number(after) >= SEARCH_LIMIT - 100) {
      // The search will not page past 10,000: start a new one from the newest change seen.
      since = newest;
      after = undefined;
      yield { records: body.results, cursor: { phase: 'search', since } };
      continue;
    }
    yield { records: body.results, cursor: after ? { phase: 'search', since, after } : { phase: 'search', since: newest } };
    if (!after) return;
  }
}

/**
 * The contact properties the default mapping reads. HubSpot returns only the properties asked for:
 * without `associatedcompanyid` (the primary company's id) no contact would name its company.
 */
export const CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'company',
  'associatedcompanyid',
  'jobtitle',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'lifecyclestage',
  'hs_email_optout',
  'lastmodifieddate',
];

/** The company properties the default mapping reads. */
export const COMPANY_PROPERTIES = [
  'name',
  'domain',
  'website',
  'phone',
  'address',
  'address2',
  'city',
  'state',
  'zip',
  'country',
  'industry',
  'lifecyclestage',
  'hs_lastmodifieddate',
];

type HubSpotObject = 'contacts' | 'companies';
interface ObjectSpec {
  type: HubSpotObject;
  properties: string[];
  /** The property the search API filters and sorts changes by: each object type names its own. */
  modified: string;
  /** Properties the API returns for every object of the type, set or not: the default mappings tell the types apart by them. */
  identifying: string[];
}
const OBJECTS: Record<HubSpotObject, ObjectSpec> = {
  contacts: {
    type: 'contacts',
    properties: CONTACT_PROPERTIES,
    modified: 'lastmodifieddate',
    identifying: ['email', 'firstname', 'lastname'],
  },
  companies: { type: 'companies', properties: COMPANY_PROPERTIES, modified: 'hs_lastmodifieddate', identifying: ['name', 'domain'] },
};
const DEFAULT_OBJECTS: HubSpotObject[] = ['contacts', 'companies'];
/** Webhook subscription types name the object in the singular: `contact.creation`, `company.deletion`. */
const EVENT_OBJECTS: Record<string, HubSpotObject> = { contact: 'contacts', company: 'companies' };

const SEARCH_LIMIT = 10_000;

type ObjectCursor =
  | { phase: 'list'; after?: string | undefined; since: number }
  /** Objects modified at or after `since` (epoch ms), page `after` of the search. */
  | { phase: 'search'; since: number; after?: string | undefined };
type HubSpotCursor = Partial<Record<HubSpotObject, ObjectCursor>>;

/** A cursor saved before companies were pulled held the contacts' place alone. */
function cursorOf(saved: SyncCursor | null): HubSpotCursor {
  if (!saved) return {};
  if ('phase' in saved) return { contacts: saved as unknown as ObjectCursor };
  return { ...(saved as HubSpotCursor) };
}

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
