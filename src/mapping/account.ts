import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { normaliseFields, schemaOf } from './fields.ts';
import { pruneBlank, unique } from './normalise-values.ts';
import type { Address, NormaliseOptions } from './profile.ts';
import { schemaProblems, settleValues, valueOptions } from './settle-values.ts';
import type { InvalidValue, Violation } from './violations.ts';

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

/** The JSON Schema of an account's fragment, derived from the field registry (`fields.ts`); `account.schema.json` publishes it. */
export const accountSchema = schemaOf('account');

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv, ['email']);
const validateAccount = ajv.compile<Account>(accountSchema);

export type NormaliseAccountResult = { ok: true; account: Account; violations: Violation[] } | { ok: false; message: string };

/**
 * Normalises a mapped account (domains to hosts, emails lowercased, phones to E.164, registration
 * ids without spaces and uppercased, single values to lists, blank as absent), drops its invalid and
 * blocked values as a person's (see `settleValues`), then validates it.
 */
export function normaliseAccount(
  raw: unknown,
  options: Pick<NormaliseOptions, 'defaultRegion' | 'onInvalid' | 'blocked'>,
): NormaliseAccountResult {
  const pruned = pruneBlank(raw) ?? {};
  if (typeof pruned !== 'object' || Array.isArray(pruned)) {
    return { ok: false, message: 'the account expression must produce an object' };
  }
  const a = { ...(pruned as Record<string, unknown>) };
  const invalid: InvalidValue[] = [];
  normaliseFields('account', a, { defaultRegion: options.defaultRegion, observedAt: new Date(0), invalid });
  const settled = settleValues('account', a, invalid, valueOptions(options));
  const problems = [...settled.problems, ...schemaProblems(validateAccount, a, 'account', settled.named)];
  if (problems.length > 0) return { ok: false, message: unique(problems).join('; ') };
  return { ok: true, account: a as Account, violations: settled.violations };
}

export { registrationId } from './fields.ts';
