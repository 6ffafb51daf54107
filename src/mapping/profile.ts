import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { normaliseFields, schemaOf } from './fields.ts';
import { pruneBlank, unique } from './normalise-values.ts';
import { schemaProblems, settleValues, valueOptions } from './settle-values.ts';
import type { InvalidValue, ValueOptions, Violation } from './violations.ts';

export interface Address {
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  country?: string;
}

export interface ConsentStatement {
  purpose: string;
  status: 'granted' | 'denied';
  /** When the statement was made: as stated, or the record's receipt time where it stated a later one. */
  at: string;
  /** The time the source stated, set only where it was after the record's receipt and `at` was capped. */
  statedAt?: string;
}

/** The canonical profile: what every mapping produces and every golden record is made of. */
export interface Profile {
  name?: { given?: string; family?: string; full?: string; suffix?: string };
  emails?: string[];
  phones?: string[];
  dateOfBirth?: string;
  addresses?: Address[];
  nationalId?: string;
  externalIds?: Record<string, string>;
  company?: string;
  attributes?: Record<string, unknown>;
  consent?: ConsentStatement[];
  /** The accounts (companies) the person belongs to, by one of the account's keys. */
  accounts?: Membership[];
}

/** How a person's record names an account: by one of its keys, as the account's own records state them. */
export type AccountRef =
  | { externalIds: Record<string, string> }
  | { domain: string }
  | { name: string }
  | { registrationIds: Record<string, string> };

export interface Membership {
  ref: AccountRef;
  role?: string;
}

/** The JSON Schema of a person's fragment, derived from the field registry (`fields.ts`); `profile.schema.json` publishes it. */
export const profileSchema = schemaOf('person');

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv, ['email', 'date', 'date-time']);
const validateProfile = ajv.compile<Profile>(profileSchema);

export type NormaliseResult = { ok: true; profile: Profile; violations: Violation[] } | { ok: false; message: string };

export interface NormaliseOptions extends Partial<ValueOptions> {
  defaultRegion: string | undefined;
  /** When the source says the record was true: a consent statement without a time is dated then. */
  observedAt: Date;
  /** When the hub received the record: no consent statement is dated later. */
  receivedAt: Date;
}

/**
 * Normalises a mapped fragment (emails lowercased, phones to E.164, single values to lists, blank as
 * absent, consent time defaulting to when the record was observed and capped at its receipt), drops
 * its invalid and blocked values (or fails on them, `onInvalid: quarantine`; see `settleValues`),
 * then validates it.
 */
export function normaliseProfile(raw: unknown, options: NormaliseOptions): NormaliseResult {
  const pruned = pruneBlank(raw) ?? {};
  if (typeof pruned !== 'object' || Array.isArray(pruned)) {
    return { ok: false, message: 'the profile expression must produce an object' };
  }
  const p = { ...(pruned as Record<string, unknown>) };
  const invalid: InvalidValue[] = [];
  normaliseFields('person', p, { defaultRegion: options.defaultRegion, observedAt: options.observedAt, invalid });
  const settled = settleValues('person', p, invalid, valueOptions(options));
  const problems = [...settled.problems, ...schemaProblems(validateProfile, p, 'profile', settled.named)];
  if (problems.length > 0) return { ok: false, message: unique(problems).join('; ') };
  const profile = p as Profile;
  if (profile.consent) profile.consent = profile.consent.map((c) => capAtReceipt(c, options.receivedAt));
  return { ok: true, profile, violations: settled.violations };
}

/**
 * Nobody can have said anything after the hub heard it: a statement dated later (a vendor's clock,
 * a typo, a grant dated 2099 to outrank every withdrawal) is dated at the receipt, and keeps the time
 * it stated so the ledger shows both. Checked after validation, so `at` is a valid date-time here.
 */
function capAtReceipt(statement: ConsentStatement, receivedAt: Date): ConsentStatement {
  const stated = Date.parse(statement.at);
  if (!(stated > receivedAt.getTime())) return statement;
  return { ...statement, at: receivedAt.toISOString(), statedAt: new Date(stated).toISOString() };
}
