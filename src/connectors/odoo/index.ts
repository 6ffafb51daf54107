import path from 'node:path';
import { type ApiClient, VendorHttpError } from '../http/client.ts';
import type { ConnectorType, PulledPage } from '../types.ts';

export interface OdooConfig {
  /** The Odoo server, e.g. `https://acme.odoo.com`. */
  baseUrl: string;
  /** The database name. */
  database: string;
  /** A user's login and an API key of theirs (Preferences → Account Security), in place of the password. */
  login: string;
  apiKey: string;
}

/**
 * The partner fields the default mappings read: a person's (`parent_id`, their company, and
 * `function`, their post there) and a company's (`website`, `vat`, `industry_id`).
 */
export const PARTNER_FIELDS = [
  'name',
  'email',
  'phone',
  'mobile',
  'street',
  'street2',
  'city',
  'zip',
  'state_id',
  'country_id',
  'is_company',
  'parent_id',
  'function',
  'company_name',
  'website',
  'vat',
  'industry_id',
  'ref',
  'customer_rank',
  'active',
  'write_date',
];

const PAGE = 200;

interface RpcReply<T> {
  result?: T;
  error?: { code: number; message: string; data?: { name?: string; message?: string } };
}

/** One JSON-RPC call; Odoo answers errors with HTTP 200 and an `error` member. */
async function call<T>(client: ApiClient, service: string, method: string, args: unknown[]): Promise<T> {
  const { body } = await client.request<RpcReply<T>>({
    method: 'POST',
    path: '/jsonrpc',
    json: { jsonrpc: '2.0', method: 'call', params: { service, method, args }, id: Date.now() },
  });
  if (body.error) {
    const name = body.error.data?.name ?? '';
    const message = `Odoo ${service}.${method}: ${body.error.data?.message ?? body.error.message}`;
    throw new VendorHttpError(/AccessDenied|AccessError|SessionExpired/.test(name) ? 'auth' : 'client', message);
  }
  return body.result as T;
}

/**
 * Odoo (the ERP): customers are `res.partner` records with a customer rank, people and companies
 * alike (the default mappings make accounts of the companies), read by JSON-RPC
 * `search_read`, oldest change first, with offset paging; incremental pulls ask for partners written
 * since the last `write_date` seen. Odoo sends no webhooks of its own: automation rules can POST to a
 * `webhook` source instead.
 */
export const odooConnector: ConnectorType<OdooConfig> = {
  type: 'odoo',
  defaultMappings: path.join(import.meta.dirname, 'mappings'),
  configSchema: {
    type: 'object',
    properties: {
      database: { type: 'string', minLength: 1 },
      login: { type: 'string', minLength: 1 },
      apiKey: { type: 'string', minLength: 8 },
    },
    required: ['baseUrl', 'database', 'login', 'apiKey'],
  },
  async verifyWebhook() {
    return { ok: false, code: 'secret_missing', message: 'an odoo source is pulled; it takes no webhooks' };
  },
  async *pull(config, context): AsyncGenerator<PulledPage> {
    const client = context.client({ baseUrl: config.baseUrl, headers: {} });
    const uid = await call<number | false>(client, 'common', 'login', [config.database, config.login, config.apiKey]);
    if (!uid) throw new VendorHttpError('auth', `Odoo refused the login "${config.login}" with this API key`);
    const cursor = context.cursor as { since?: string; offset?: number; newest?: string } | null;
    const since = cursor?.since;
    let offset = cursor?.offset ?? 0;
    let newest = cursor?.newest ?? since;
    for (;;) {
      // Archived partners too (Odoo leaves them out unless asked): they are marked deleted here.
      const domain: unknown[] = [
        ['customer_rank', '>', 0],
        ['active', 'in', [true, false]],
        ...(since ? [['write_date', '>=', since]] : []),
      ];
      const partners = await call<{ id: number; write_date: string }[]>(client, 'object', 'execute_kw', [
        config.database,
        uid,
        config.apiKey,
        'res.partner',
        'search_read',
        [domain],
        { fields: PARTNER_FIELDS, order: 'write_date asc, id asc', limit: PAGE, offset },
      ]);
      for (const p of partners) if (!newest || p.write_date > newest) newest = p.write_date;
      offset += partners.length;
      const more = partners.length === PAGE;
      const next = more ? { ...(since ? { since } : {}), offset, ...(newest ? { newest } : {}) } : newest ? { since: newest } : {};
      yield { records: partners, cursor: next };
      if (!more) return;
    }
  },
};
