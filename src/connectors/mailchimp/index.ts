import path from 'node:path';
import { parse } from 'qs';
import { anyMatch, noSecret, secretProperties, secretsOf } from '../signing/index.ts';
import type { ConnectorType, PulledPage, VerifyResult, WebhookRequest } from '../types.ts';

export interface MailchimpConfig {
  /** The token in the webhook URL's query: `…/webhooks/<source>?secret=<token>`; without it, webhooks are refused. */
  secret?: string;
  previousSecrets?: string[];
  /** A Marketing API key (`…-us6`: the suffix names the data centre); needed to pull. */
  apiKey?: string;
  /** The audience (list) to pull. */
  listId?: string;
  baseUrl?: string;
}

/** Members a page: Mailchimp's maximum. */
const PAGE = 1000;

/**
 * Mailchimp signs nothing: the webhook URL carries a secret token, compared in constant time. It
 * checks a URL with a GET before it sends to it, and posts form-encoded bodies
 * (`type=subscribe&data[merges][FNAME]=…`), parsed here into nested objects.
 */
export const mailchimpConnector: ConnectorType<MailchimpConfig> = {
  type: 'mailchimp',
  defaultMappings: path.join(import.meta.dirname, 'mappings'),
  configSchema: {
    type: 'object',
    properties: {
      ...secretProperties,
      apiKey: { type: 'string', pattern: '-[a-z]+[0-9]+$' },
      listId: { type: 'string', minLength: 1 },
    },
    anyOf: [{ required: ['secret'] }, { required: ['apiKey', 'listId'] }],
  },
  async verifyWebhook(config, request) {
    return checkToken(config, request);
  },
  answerGet(config, request) {
    return checkToken(config, request);
  },
  parseWebhook(request) {
    return [parse(request.body, { depth: 5, parameterLimit: 1000 })];
  },
  /**
   * An audience's members (`GET /3.0/lists/{list_id}/members`, offset pagination); incremental
   * pulls ask for those changed since the last change seen (`since_last_changed`).
   */
  async *pull(config, context): AsyncGenerator<PulledPage> {
    if (!config.apiKey || !config.listId) throw new Error('the source has no apiKey and listId: it cannot pull from Mailchimp');
    const dc = config.apiKey.slice(config.apiKey.lastIndexOf('-') + 1);
    const client = context.client({
      baseUrl: config.baseUrl ?? `https://${dc}.api.mailchimp.com`,
      headers: { authorization: `Basic ${Buffer.from(`aurum:${config.apiKey}`).toString('base64')}` },
    });
    const cursor = context.cursor as { since?: string; offset?: number; newest?: string } | null;
    const since = cursor?.since;
    let offset = cursor?.offset ?? 0;
    let newest = cursor?.newest ?? since;
    for (;;) {
      const { body } = await client.request<{ members: { last_changed?: string }[]; total_items: number }>({
        path: `/3.0/lists/${encodeURIComponent(config.listId)}/members`,
        query: { count: PAGE, offset, since_last_changed: since },
      });
      for (const m of body.members) if (m.last_changed && (!newest || m.last_changed > newest)) newest = m.last_changed;
      offset += body.members.length;
      const more = body.members.length === PAGE && offset < body.total_items;
      const next = more ? { ...(since ? { since } : {}), offset, ...(newest ? { newest } : {}) } : newest ? { since: newest } : {};
      yield { records: body.members, cursor: next };
      if (!more) return;
    }
  },
};

function checkToken(config: MailchimpConfig, request: WebhookRequest): VerifyResult {
  const secrets = secretsOf(config);
  if (secrets.length === 0) return noSecret;
  const token = request.url.searchParams.get('secret');
  if (!token) return { ok: false, code: 'signature_missing', message: 'the webhook URL carries no ?secret= token' };
  return anyMatch([token], secrets) ? { ok: true } : { ok: false, code: 'signature_invalid', message: 'the ?secret= token does not match' };
}
