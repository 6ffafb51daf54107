import jsonata from 'jsonata';
import { helperProblems, registerHelpers } from './helpers.ts';
import { type MappingExpression, withPlainPath } from './plain-expression.ts';

/** A `mappings/<name>.yaml` file as the ops engineer writes it. */
export interface MappingSpec {
  source: string;
  object: string;
  recordId: string;
  updatedAt?: string;
  /** Optional JSONata predicate: the mapping applies only to records for which it is true. */
  when?: string;
  /** Optional JSONata predicate: true when the record says the vendor deleted or archived the object. */
  deleted?: string;
  /** Optional JSONata: the record's region (a country code) for its national phone numbers, instead of AURUM_DEFAULT_REGION. */
  region?: string;
  /** The expression producing a person (`profile:`) or an account (`account:`): exactly one of them. */
  profile?: string;
  account?: string;
  description?: string;
  /** `drop` (the default): an invalid or blocked value leaves the fragment; `quarantine`: the record goes to quarantine (the schema admits no other). */
  onInvalid?: string;
}

export type OnInvalid = 'drop' | 'quarantine';

/** What a mapping produces: the key of its expression names it. */
export type Entity = 'person' | 'account';
export const ENTITIES: readonly Entity[] = ['person', 'account'];

export const mappingFileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    source: { type: 'string', minLength: 1 },
    object: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,62}$', default: 'record' },
    recordId: { type: 'string', minLength: 1 },
    updatedAt: { type: 'string', minLength: 1 },
    when: { type: 'string', minLength: 1 },
    deleted: { type: 'string', minLength: 1 },
    region: { type: 'string', minLength: 1 },
    profile: { type: 'string', minLength: 1 },
    account: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    onInvalid: { type: 'string', enum: ['drop', 'quarantine'], default: 'drop' },
  },
  required: ['source', 'recordId'],
} as const;

export interface CompiledMapping {
  file: string;
  /** sha256 of the file's text: lineage names the exact version that produced a value. */
  hash: string;
  source: string;
  object: string;
  recordId: MappingExpression;
  updatedAt: MappingExpression | undefined;
  when: MappingExpression | undefined;
  deleted: MappingExpression | undefined;
  region: MappingExpression | undefined;
  entity: Entity;
  /** The `profile:` or `account:` expression. */
  expression: MappingExpression;
  onInvalid: OnInvalid;
}

interface JsonataError {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

/**
 * Compiles every expression once, with the mapping helpers (`helpers.ts`) registered on it; reports
 * each that does not compile or names a date format or region that does not exist.
 */
export function compileMapping(
  file: string,
  hash: string,
  spec: MappingSpec,
  report: (field: string, message: string) => void,
): CompiledMapping | undefined {
  let ok = true;
  const compile = (field: string, expression: string | undefined) => {
    if (expression === undefined) return undefined;
    let compiled: jsonata.Expression;
    try {
      compiled = jsonata(expression);
    } catch (e) {
      const error = e as JsonataError;
      ok = false;
      report(field, `JSONata ${error.code ?? 'error'} at character ${error.position ?? '?'}: ${error.message ?? String(e)}`);
      return undefined;
    }
    registerHelpers(compiled);
    for (const problem of helperProblems(compiled.ast())) {
      ok = false;
      report(field, problem);
    }
    return withPlainPath(compiled);
  };
  const recordId = compile('recordId', spec.recordId);
  const updatedAt = compile('updatedAt', spec.updatedAt);
  const when = compile('when', spec.when);
  const deleted = compile('deleted', spec.deleted);
  const region = compile('region', spec.region);
  if ((spec.profile === undefined) === (spec.account === undefined)) {
    report(
      spec.profile === undefined ? 'profile' : 'account',
      'a mapping produces a person (`profile:`) or an account (`account:`): give exactly one of them',
    );
    return undefined;
  }
  const entity: Entity = spec.account === undefined ? 'person' : 'account';
  const expression = compile(entity === 'person' ? 'profile' : 'account', spec.profile ?? spec.account);
  if (!ok || !recordId || !expression) return undefined;
  const onInvalid: OnInvalid = spec.onInvalid === 'quarantine' ? 'quarantine' : 'drop';
  return {
    file,
    hash,
    source: spec.source,
    object: spec.object,
    recordId,
    updatedAt,
    when,
    deleted,
    region,
    entity,
    expression,
    onInvalid,
  };
}
