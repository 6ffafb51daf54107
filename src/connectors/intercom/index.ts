import path from 'node:path';
import { type ApiClient, VendorHttpError } from '../http/client.ts';
import { anyMatch, hmac, mismatch, missing, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PulledPage, SyncCursor } from '../types.ts';

export interface IntercomConfig {
  /** The app's client secret, which signs its webhook notifications; without it, webhooks are refused. */
  secret?: string;
  previousSecrets?: string[];
  /** An access token that may read users and companies; needed to pull. */
  accessToken?: string;
  /** `https://api.intercom.io` by default; `https://api.eu.intercom.io` or `https://api.au.intercom.io` for those regions. */
  baseUrl?: string;
}

/** The API version pulls are made with (`Intercom-Version`). */
export const INTERCOM_VERSION = '2.11';

type ContactsCursor =
  | { phase: 'list'; startingAfter?: string | undefined; since: number }
  /** Contacts updated after `since` (epoch seconds), page `startingAfter` of the search. */
  | { phase: 'search'; since: number; startingAfter?: string | undefined; newest?: number };
/** Companies updated at or after `since` (epoch seconds); none: every company. */
type CompaniesCursor = { since?: number };
interface IntercomCursor {
  contacts?: ContactsCursor;
  companies?: CompaniesCursor;
}

interface IntercomList {
  data: { id: string; updated_at?: number }[];
  pages?: { next?: { starting_after?: string } | null };
}

interface IntercomScroll {
  data: { id: string; updated_at?: number }[];
  scroll_param?: string | null;
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
      ...secretProperties,
      accessToken: { type: 'string', minLength: 8 },
    },
    anyOf: [{ required: ['secret'] }, { required: ['accessToken'] }],
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
  /**
   * Contacts, then companies. A full pull lists contacts (`GET /contacts`,
   * `pages.next.starting_after`); from then on, `POST /contacts/search` for contacts updated since
   * the cursor, oldest first. Companies have no search by update time, and their list stops at
   * 10,000: every run scrolls through all of them (`GET /companies/scroll`) and keeps those updated
   * since the last run saw.
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    if (!config.accessToken) throw new Error('the source has no accessToken: it cannot pull from Intercom');
    const client = context.client({
      baseUrl: config.baseUrl ?? 'https://api.intercom.io',
      headers: { authorization: `Bearer ${config.accessToken}`, 'intercom-version': INTERCOM_VERSION },
    });
    const cursor = cursorOf(context.cursor);
    for await (const page of pullContacts(client, cursor.contacts, context.startedAt)) {
      cursor.contacts = page.cursor;
      yield { records: page.records, cursor: { ...cursor } };
    }
    for await (const page of pullCompanies(client, cursor.companies)) {
      cursor.companies = page.cursor;
      yield { records: page.records, cursor: { ...cursor } };
    }
  },
};

async function* pullContacts(
  client: ApiClient,
  cursor: ContactsCursor | undefined,
  startedAt: Date,
): AsyncGenerator<{ records: unknown[]; cursor: ContactsCursor }> {
  if (!cursor || cursor.phase === 'list') {
    const since = cursor?.since ?? Math.floor(startedAt.getTime() / 1000);
    let after = cursor?.startingAfter;
    for (;;) {
      const { body } = await client.request<IntercomList>({ path: '/contacts', query: { per_page: 150, starting_after: after } });
      after = body.pages?.next?.starting_after;
      yield { records: body.data, cursor: after ? { phase: 'list', startingAfter: after, since } : { phase: 'search', since } };
      if (!after) return;
    }
  }
  const { since } = cursor;
  let { startingAfter: after, newest = since } = cursor;
  for (;;) {
    const { body } = await client.request<IntercomList>({
      method: 'POST',
      path: '/contacts/search',
      json: {
        // ">" on a time Intercom stores in seconds: a change in the same second as the last one
        // seen is caught by starting from one second before it.
        query: { field: 'updated_at', operator: '>', value: since - 1 },
        sort: { field: 'updated_at', order: 'ascending' },
        pagination: { per_page: 150, ...(after ? { starting_after: after } : {}) },
      },
    });
    for (const contact of body.data) newest = Math.max(newest, contact.updated_at ?? newest);
    after = body.pages?.next?.starting_after;
    yield {
      records: body.data,
      cursor: after ? { phase: 'search', since, startingAfter: after, newest } : { phase: 'search', since: newest },
    };
    if (!after) return;
  }
}

/**
 * Intercom keeps one scroll open per app, which expires after a minute unused and cannot be
 * resumed: a run that stops half-way scrolls again from the start next time, so the cursor moves
 * only once the scroll has ended (on the empty page that ends it).
 */
async function* pullCompanies(
  client: ApiClient,
  cursor: CompaniesCursor | undefined,
): AsyncGenerator<{ records: unknown[]; cursor: CompaniesCursor }> {
  const since = cursor?.since;
  let newest = since ?? 0;
  let scrollParam: string | undefined;
  for (;;) {
    const { body } = await client.request<IntercomScroll>({ path: '/companies/scroll', query: { scroll_param: scrollParam } });
    if (body.data.length === 0) {
      yield { records: [], cursor: { since: newest } };
      return;
    }
    for (const company of body.data) newest = Math.max(newest, company.updated_at ?? newest);
    // A company without an update time is kept: nothing says it is unchanged.
    const changed = since === undefined ? body.data : body.data.filter((c) => c.updated_at === undefined || c.updated_at >= since);
    yield { records: changed, cursor: cursor ?? {} };
    scrollParam = body.scroll_param ?? undefined;
    if (!scrollParam) throw new VendorHttpError('client', 'Intercom ended a company scroll without a scroll_param');
  }
}

/** A cursor saved before companies were pulled held the contacts' place alone. */
function cursorOf(saved: SyncCursor | null): IntercomCursor {
  if (!saved) return {};
  if ('phase' in saved) return { contacts: saved as unknown as ContactsCursor };
  return { ...(saved as IntercomCursor) };
}
