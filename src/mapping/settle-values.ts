import type { ValidateFunction } from 'ajv';
import { FIELDS } from './fields.ts';
import type { Entity } from './mapping-file.ts';
import { type InvalidValue, type ValueOptions, VIOLATION_KINDS, type Violation } from './violations.ts';

/*
 * What becomes of a fragment's invalid values once its fields are normalised: dropped and kept as
 * violations (`drop`), or problems that quarantine the record (`onInvalid: quarantine`).
 */

export interface Settled {
  /** The values dropped from the fragment. */
  violations: Violation[];
  /** What quarantines the record: its invalid values with `onInvalid: quarantine`, or nothing left to identify it. */
  problems: string[];
  /** The places already named (`phones/1`): the schema's errors there would only repeat them. */
  named: string[];
}

/** Values are dropped unless the mapping says otherwise; nothing is blocked unless identity.yaml says so. */
export const valueOptions = (options: Partial<ValueOptions>): ValueOptions => ({
  onInvalid: options.onInvalid ?? 'drop',
  blocked: options.blocked ?? new Set(),
});

/** The schema's errors, each named by its path, but those at a place an invalid value already names. */
export function schemaProblems(validate: ValidateFunction, fragment: unknown, what: string, named: readonly string[]): string[] {
  if (validate(fragment)) return [];
  return (validate.errors ?? []).flatMap((e) => {
    const at = e.instancePath.slice(1);
    if (named.some((n) => at === n || at.startsWith(`${n}/`))) return [];
    const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
    return [`${at || what}: ${e.message ?? 'is invalid'}${extra}`];
  });
}

const pointer = (path: readonly (string | number)[]) => path.join('/');
const violation = ({ field, kind, message, value }: InvalidValue): Violation => ({ field, kind, message, value });

/**
 * Settles a normalised fragment's invalid values, in place. With `drop`, blocked values are found
 * too, and every one is removed; if that leaves nothing that identifies the record (see
 * `identifies` in the field registry), the record is quarantined as before, with the reasons. With
 * `quarantine`, each invalid value is a problem and blocked values stay, for resolution to ignore,
 * as before.
 */
export function settleValues(
  entity: Entity,
  fragment: Record<string, unknown>,
  invalid: readonly InvalidValue[],
  options: ValueOptions,
): Settled {
  const problems = (values: readonly InvalidValue[]) => values.map((v) => `${pointer(v.path)}: ${v.message}`);
  const named = invalid.map((v) => pointer(v.path));
  if (options.onInvalid === 'quarantine') return { violations: [], problems: problems(invalid), named };
  const found = [...invalid, ...blockedValuesOf(entity, fragment, options.blocked, new Set(named))];
  if (found.length === 0) return { violations: [], problems: [], named };
  dropAt(fragment, found);
  if (!identifies(entity, fragment)) {
    return {
      violations: [],
      problems: [...problems(found), 'nothing that identifies the record is left once its invalid values are dropped'],
      named: found.map((v) => pointer(v.path)),
    };
  }
  return { violations: found.map(violation), problems: [], named: [] };
}

/** Whether the fragment holds a field the registry marks as identifying (a name, an email, an id…). */
export function identifies(entity: Entity, fragment: Record<string, unknown>): boolean {
  return Object.entries(FIELDS[entity]).some(([name, field]) => field.identifies === true && fragment[name] !== undefined);
}

/** The values of the fields that hold identifiers (`blocked` in the registry) that identity.yaml blocks. */
function blockedValuesOf(
  entity: Entity,
  fragment: Record<string, unknown>,
  blocked: ReadonlySet<string>,
  named: ReadonlySet<string>,
): InvalidValue[] {
  if (blocked.size === 0) return [];
  // Phones are compared as matchKeys does: `0000000000` blocks `+0000000000`.
  const isBlocked = (v: unknown) =>
    typeof v === 'string' && (blocked.has(v.toLowerCase()) || blocked.has(v.replace(/^\+/, '').toLowerCase()));
  const found: InvalidValue[] = [];
  const check = (path: (string | number)[], value: unknown) => {
    if (isBlocked(value) && !named.has(pointer(path))) {
      found.push({ path, field: String(path[0]), kind: 'blocked_value', message: VIOLATION_KINDS.blocked_value, value });
    }
  };
  for (const [name, field] of Object.entries(FIELDS[entity])) {
    const value = fragment[name];
    if (!field.blocked || value === undefined) continue;
    if (Array.isArray(value)) for (const [i, v] of value.entries()) check([name, i], v);
    else if (value && typeof value === 'object') for (const [key, v] of Object.entries(value)) check([name, key], v);
    else check([name], value);
  }
  return found;
}

/** Removes the values at `values`' paths; a list or an object left empty goes too, as a blank value would. */
function dropAt(fragment: Record<string, unknown>, values: readonly InvalidValue[]): void {
  const doomed = new Set(values.map((v) => pointer(v.path)));
  const without = (value: unknown, at: string): unknown => {
    if (Array.isArray(value)) {
      const kept = value.flatMap((item, i) => {
        const path = `${at}/${i}`;
        if (doomed.has(path)) return [];
        const rest = without(item, path);
        return rest === undefined ? [] : [rest];
      });
      return kept.length > 0 ? kept : undefined;
    }
    if (value && typeof value === 'object') {
      const kept = Object.entries(value).flatMap(([key, item]) => {
        const path = `${at}/${key}`;
        const rest = doomed.has(path) ? undefined : without(item, path);
        return rest === undefined ? [] : [[key, rest] as const];
      });
      return kept.length > 0 ? Object.fromEntries(kept) : undefined;
    }
    return value;
  };
  for (const name of new Set(values.map((v) => String(v.path[0])))) {
    const kept = doomed.has(name) ? undefined : without(fragment[name], name);
    if (kept === undefined) delete fragment[name];
    else fragment[name] = kept;
  }
}
