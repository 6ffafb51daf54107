import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { normaliseHost } from './domains.ts';
import { asList, normalisePhones, pruneBlank, redact, stringifyIds, unique } from './normalise-values.ts';
import type { Address, NormaliseOptions } from './profile.ts';

/** The canonical account (a company, an organisation): what an `account:` mapping produces. */
export interface Account {
  name?: string;
  /** Hosts, normalised (`acme.example`); the account's identifiers unless a free-mail domain. */
  domains?: string[];
  /** Contact points (info@, sales@), not identifiers: a mailbox is shared with people. */
  emails?: string[];
  phones?: string[];
  addresses?: Address[];
  externalIds?: Record<string, string>;
  /** Company registers' ids: `{vat: …, companyNumber: …}`. */
  registrationIds?: Record<string, string>;
  industry?: string;
  attributes?: Record<string, unknown>;
}

export const accountSchema = JSON.parse(readFileSync(path.join(import.meta.dirname, 'account.schema.json'), 'utf8')) as Record<
  string,
  unknown
>;

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv, ['email']);
const validateAccount = ajv.compile<Account>(accountSchema);

export type NormaliseAccountResult = { ok: true; account: Account } | { ok: false; message: string };

/**
 * Normalises a mapped account (domains to hosts, emails lowercased, phones to E.164, registration
 * ids without spaces and uppercased, single values to lists, blank as absent), then validates it.
 */
export function normaliseAccount(raw: unknown, options: Pick<NormaliseOptions, 'defaultRegion'>): NormaliseAccountResult {
  const pruned = pruneBlank(raw) ?? {};
  if (typeof pruned !== 'object' || Array.isArray(pruned)) {
    return { ok: false, message: 'the account expression must produce an object' };
  }
  const a = { ...(pruned as Record<string, unknown>) };
  const problems: string[] = [];
  for (const key of ['name', 'industry'] as const) if (typeof a[key] === 'number') a[key] = String(a[key]);

  const domains = asList(a['domains']);
  if (domains) {
    a['domains'] = unique(
      domains.map((d, i) => {
        if (typeof d !== 'string') return d as string;
        const host = normaliseHost(d);
        if (!host) problems.push(`domains/${i}: "${redact(d)}" is not a domain or a URL with one`);
        return host ?? d;
      }),
    );
  }
  const emails = asList(a['emails']);
  if (emails) a['emails'] = unique(emails.map((e) => (typeof e === 'string' ? e.toLowerCase() : e)) as string[]);
  const phones = asList(a['phones']);
  if (phones) a['phones'] = normalisePhones(phones, options.defaultRegion, problems);
  const addresses = asList(a['addresses']);
  if (addresses) a['addresses'] = addresses;
  stringifyIds(a['externalIds']);
  stringifyIds(a['registrationIds']);
  const registrationIds = a['registrationIds'];
  if (registrationIds && typeof registrationIds === 'object' && !Array.isArray(registrationIds)) {
    const ids = registrationIds as Record<string, unknown>;
    for (const [scheme, id] of Object.entries(ids)) if (typeof id === 'string') ids[scheme] = registrationId(id);
  }

  if (!validateAccount(a)) {
    for (const e of validateAccount.errors ?? []) {
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
      problems.push(`${e.instancePath.slice(1) || 'account'}: ${e.message ?? 'is invalid'}${extra}`);
    }
  }
  if (problems.length > 0) return { ok: false, message: unique(problems).join('; ') };
  return { ok: true, account: a as Account };
}

/** `gb 123 4567-89` and `GB123456789` are one VAT number: registers ignore case, spaces, dots and dashes. */
export const registrationId = (id: string): string => id.toUpperCase().replace(/[\s.\-/]/g, '');
