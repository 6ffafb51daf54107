import type { OnInvalid } from './mapping-file.ts';

/*
 * A bad value is dropped, not the record: an email, phone, date or domain that fails its check, or a
 * placeholder identity.yaml blocks, leaves the fragment and is kept as a violation of the record
 * (`source_records.violations`); the rest of the record goes on. A mapping with `onInvalid:
 * quarantine` quarantines the record instead, as every mapping did before.
 */

/** Why a value was dropped: the kind names the check it failed, never the value. */
export const VIOLATION_KINDS = {
  email_invalid: 'not a valid email address',
  phone_invalid: 'not a valid phone number',
  date_invalid: 'not a calendar date written YYYY-MM-DD',
  domain_invalid: 'not a domain or a URL with one',
  blocked_value: "a placeholder identity.yaml's blockedValues lists",
} as const;
export type ViolationKind = keyof typeof VIOLATION_KINDS;

/** A value dropped from a record's fragment. */
export interface Violation {
  /** The canonical field, as identity.yaml names paths: `phones`, `dateOfBirth`, `accounts.ref.domain`. */
  field: string;
  kind: ViolationKind;
  /** Why, without the value: messages may be shown and logged where values may not. */
  message: string;
  /** The value as mapped: personal data, stored with the record and erased with it, never logged. */
  value: unknown;
}

/** A violation's JSON Schema, for the routes that show them. */
export const violationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'kind', 'message', 'value'],
  properties: {
    field: { type: 'string' },
    kind: { type: 'string', enum: Object.keys(VIOLATION_KINDS) },
    message: { type: 'string' },
    value: {},
  },
};

/** A value found invalid while normalising, still in the fragment at `path` (`['phones', 1]`). */
export interface InvalidValue extends Violation {
  path: readonly (string | number)[];
}

export interface ValueOptions {
  onInvalid: OnInvalid;
  /** identity.yaml's blockedValues, lowercased. */
  blocked: ReadonlySet<string>;
}
