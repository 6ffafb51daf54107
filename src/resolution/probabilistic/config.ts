import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { ConfigError, type ConfigProblem, YamlFile } from '../../config/yaml-file.ts';
import { comparablePaths } from '../../mapping/fields.ts';

/** A comparison level; a field's levels are tried in order and the first that holds is the pair's level. */
export type Level =
  | { exact: true }
  | { nickname: true }
  | { jaroWinkler: number }
  | { levenshtein: number }
  | { metaphone: true }
  | { dateTransposed: true }
  | { numericDistance: number }
  | { sameYear: true }
  /** One value is a single letter, the other's first: "J" and "John". */
  | { initial: true }
  /** The value equals the other record's value of this field: given and family names swapped. */
  | { swappedWith: string };

export interface Comparison {
  /** A profile path: `name.given`, `dateOfBirth`, `addresses.postalCode`, `emails`, … */
  field: string;
  levels: Level[];
  /** Term-frequency adjustment of exact matches: agreeing on a rare value counts for more. */
  tf?: boolean;
  /**
   * P(level | same person), one per level and a last one for "no level holds": the default model's
   * before any training, and what training's estimate is blended with by the evidence behind it.
   */
  m?: number[];
  /** P(level | different people), likewise. */
  u?: number[];
  /** Use `m` and `u` as given: training estimates nothing for this comparison. */
  pin?: boolean;
  /**
   * Comparisons of one group are evidence about one thing (a postcode, a street and a town are one
   * address): when none of them agrees, only the strongest disagreement counts. Someone who moved
   * disagrees on all three at once, which is one fact, not three. When any agrees, all count.
   */
  group?: string;
}

/**
 * Evidence against a match that no amount of shared contact points outweighs: a pair that reaches
 * no level on every `disagree` field (both records hold it) cannot link, unless it agrees on one of
 * the `unless` fields (reaches any level there).
 */
export interface CannotLinkRule {
  disagree: string[];
  /**
   * The last level (1-based) of a `disagree` field that still counts as agreeing: all its levels by
   * default. Given names a loose similarity apart (Mark and Mary) are two people as surely as
   * John and Jane.
   */
  agreeLevel?: number;
  unless?: string[];
  /**
   * The last level (1-based) of an `unless` field that still rescues a pair: 1, exact agreement,
   * by default (twins' national ids can be a digit apart). A rule relatives cannot break through
   * a near value (dates of birth: twins share theirs) may let a typo rescue too.
   */
  unlessLevel?: number;
  /**
   * The rule holds while one person's records rarely disagree on the `disagree` fields, as the data
   * shows it: among the candidate pairs that agree on an `unless` field (one person by a personal
   * identifier, which relatives never share), the share that disagree stays below this. Data that
   * garbles the field for one person makes a disagreement no evidence, and the rule steps aside.
   * Without such pairs to measure (no `unless` field in the data), the rule holds.
   */
  whileRarerThan?: number;
}

/** An account comparison: a person's, with its m and u per level given rather than trained. */
export interface AccountComparison extends Comparison {
  /** P(level | same company), one per level and a last one for "no level holds". */
  m: number[];
  /** P(level | different companies), likewise. */
  u: number[];
}

/**
 * How accounts are resolved (`account:` in identity.yaml). Companies are few beside people, too few
 * for the hub to learn m and u from, so the model is declared here, with documented defaults.
 */
export interface AccountIdentityConfig {
  /** Link when the match probability reaches this (0–1). */
  threshold: number;
  /** Identifiers that link accounts outright: an external id, a registration id, a (non free-mail) domain. */
  identifiers: ('externalIds' | 'registrationIds' | 'domains')[];
  /** Candidate pairs: accounts that share any rule's key (as for persons). */
  blocking: string[][];
  /** The prior probability that two accounts drawn at random are one company. */
  prior: number;
  comparisons: AccountComparison[];
}

export interface IdentityConfig {
  /** Link when the match probability reaches this (0–1). */
  threshold: number;
  /** Or: link when the match weight (log2 odds, prior included) reaches this; it wins over `threshold`. */
  thresholdWeight?: number;
  /**
   * Batch clustering: two records scored at or below this weight never end up in one cluster through
   * a chain of other links (links are taken strongest first; one that would join them is left out).
   */
  cannotLinkWeight: number;
  /** The prior probability that two records drawn at random are one person, for the default model. */
  prior: number;
  /** Pairs that cannot link whatever else they share (relatives, households). */
  cannotLink: CannotLinkRule[];
  /** Fields (or combinations) that link on exact agreement, whatever else differs. */
  deterministic: string[][];
  /** Each rule's key is its fields' values joined; records sharing a key are compared. */
  blocking: string[][];
  comparisons: Comparison[];
  /** Values that never link or block: placeholders, test data. Compared after normalisation. */
  blockedValues: string[];
  /** Merges that would break these are refused and recorded in the profile's history. */
  guards: {
    /** External id systems whose ids are unique per person: a profile never holds two of one. */
    uniqueSystems: string[];
    /** At most this many distinct values of each identifier type in one profile. */
    maxPerProfile: { emails?: number; phones?: number; externalIds?: number };
  };
  /** CSV of `name,nickname,nickname…` rows (the format of Carlton Northern's list); see README. */
  nicknames?: string;
  /** Random pairs sampled to estimate u probabilities. */
  uSamplePairs: number;
  /** Expectation-maximisation iterations for m probabilities. */
  emIterations: number;
  /** Blocks larger than this are skipped (a value that common identifies no one). */
  maxBlockSize: number;
  /** When the hub trains its live model on its own records. */
  training: {
    /** Train once the database holds this many records; until then, the default model scores arrivals. */
    minRecords: number;
    /** Retrain when the records have grown by this factor since the model in force was trained. */
    retrainGrowth: number;
    /** Train on a random sample of at most this many records. */
    maxSample: number;
    /** How many matched pairs the comparisons' default m counts as, against EM's expected matches. */
    priorMatches: number;
    /** How many random pairs the comparisons' default u counts as, against the pairs sampled. */
    priorPairs: number;
  };
  account: AccountIdentityConfig;
}

const levelSchema = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: {
    exact: { const: true },
    nickname: { const: true },
    jaroWinkler: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    levenshtein: { type: 'integer', minimum: 1, maximum: 5 },
    metaphone: { const: true },
    dateTransposed: { const: true },
    numericDistance: { type: 'number', exclusiveMinimum: 0 },
    sameYear: { const: true },
    initial: { const: true },
    swappedWith: { type: 'string', minLength: 1 },
  },
};
const fieldList = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } };
const probabilities = { type: 'array', minItems: 2, maxItems: 15, items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } };

const comparisonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'levels'],
  properties: {
    field: { type: 'string' },
    levels: { type: 'array', minItems: 1, maxItems: 14, items: levelSchema },
    tf: { type: 'boolean' },
    m: probabilities,
    u: probabilities,
    pin: { type: 'boolean' },
    group: { type: 'string', minLength: 1 },
  },
};
const cannotLinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['disagree'],
  properties: {
    disagree: fieldList,
    agreeLevel: { type: 'integer', minimum: 1, maximum: 14 },
    unless: fieldList,
    unlessLevel: { type: 'integer', minimum: 1, maximum: 14 },
    whileRarerThan: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  },
};

const accountSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threshold: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    identifiers: { type: 'array', uniqueItems: true, items: { enum: ['externalIds', 'registrationIds', 'domains'] } },
    blocking: { type: 'array', minItems: 1, items: fieldList },
    prior: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    comparisons: {
      type: 'array',
      minItems: 1,
      maxItems: 13,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['field', 'levels', 'm', 'u'],
        properties: {
          field: { type: 'string' },
          levels: { type: 'array', minItems: 1, maxItems: 14, items: levelSchema },
          m: probabilities,
          u: probabilities,
        },
      },
    },
  },
};

export const identitySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threshold: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    thresholdWeight: { type: 'number' },
    cannotLinkWeight: { type: 'number' },
    deterministic: { type: 'array', items: fieldList },
    blocking: { type: 'array', minItems: 1, items: fieldList },
    // Patterns are packed 4 bits a field into a number: at most 13 fields of at most 14 levels.
    comparisons: { type: 'array', minItems: 1, maxItems: 13, items: comparisonSchema },
    prior: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    cannotLink: { type: 'array', items: cannotLinkSchema },
    // Added to the defaults (or to what this file sets), without copying them.
    add: {
      type: 'object',
      additionalProperties: false,
      properties: {
        comparisons: { type: 'array', items: comparisonSchema },
        blocking: { type: 'array', items: fieldList },
        cannotLink: { type: 'array', items: cannotLinkSchema },
      },
    },
    blockedValues: { type: 'array', items: { type: 'string' } },
    guards: {
      type: 'object',
      additionalProperties: false,
      properties: {
        uniqueSystems: { type: 'array', items: { type: 'string', minLength: 1 } },
        maxPerProfile: {
          type: 'object',
          additionalProperties: false,
          properties: {
            emails: { type: 'integer', minimum: 1 },
            phones: { type: 'integer', minimum: 1 },
            externalIds: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    nicknames: { type: 'string' },
    uSamplePairs: { type: 'integer', minimum: 1000 },
    emIterations: { type: 'integer', minimum: 1, maximum: 200 },
    maxBlockSize: { type: 'integer', minimum: 2 },
    training: {
      type: 'object',
      additionalProperties: false,
      properties: {
        minRecords: { type: 'integer', minimum: 2 },
        retrainGrowth: { type: 'number', minimum: 1.1 },
        maxSample: { type: 'integer', minimum: 100 },
        priorMatches: { type: 'number', minimum: 0 },
        priorPairs: { type: 'number', minimum: 0 },
      },
    },
    account: accountSchema,
  },
} as const;

export const IDENTITY_FILE = 'identity.yaml';
export const DEFAULT_IDENTITY_FILE = path.join(import.meta.dirname, 'identity.default.yaml');

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(identitySchema);

function parse(file: string, text: string, base: IdentityConfig | undefined, problems: ConfigProblem[]): IdentityConfig | undefined {
  const yaml = new YamlFile(file, text, problems);
  if (yaml.value === undefined) return undefined;
  if (!validate(yaml.value)) {
    problems.push(...yaml.schemaProblems(validate.errors));
    return undefined;
  }
  const { add, ...own } = yaml.value as Partial<IdentityConfig> & {
    add?: { comparisons?: Comparison[]; blocking?: string[][]; cannotLink?: CannotLinkRule[] };
  };
  const merged = { ...base, ...own } as IdentityConfig;
  // The rules this file states are checked below; the defaults' rules apply where the fields they
  // name are compared (a file that replaces the comparisons keeps the rules it still can).
  const stated = [...(own.cannotLink ?? []), ...(add?.cannotLink ?? [])];
  const inherited = own.cannotLink || !base ? [] : base.cannotLink;
  if (add) {
    // A comparison added for a field already compared replaces that one; others are appended.
    const added = new Set((add.comparisons ?? []).map((c) => c.field));
    merged.comparisons = [...merged.comparisons.filter((c) => !added.has(c.field)), ...(add.comparisons ?? [])];
    merged.blocking = [...merged.blocking, ...(add.blocking ?? [])];
    if (merged.comparisons.length > 13) {
      problems.push({ file, field: 'add.comparisons', message: `${merged.comparisons.length} comparisons in all; at most 13 fit` });
    }
  }
  // guards merges one level deeper: setting maxPerProfile alone keeps the default uniqueSystems.
  if (base && own.guards) merged.guards = { ...base.guards, ...own.guards };
  if (base && own.training) merged.training = { ...base.training, ...own.training };
  // account merges one level deeper too: changing its threshold keeps the default comparisons.
  if (base && own.account) merged.account = { ...base.account, ...own.account };
  checkAccount(file, merged.account, problems);
  // A comparison needs a known path; a rule may only use compared or identifier fields.
  const compared = new Set(merged.comparisons.map((c) => c.field));
  for (const [i, c] of merged.comparisons.entries()) {
    if (!isKnownField(c.field)) {
      problems.push({
        file,
        field: `comparisons.${i}.field`,
        message: `unknown field "${c.field}"; one of ${[...KNOWN_FIELDS].join(', ')}, or attributes.<key>`,
      });
    }
    for (const p of ['m', 'u'] as const) {
      const given = c[p];
      if (given && given.length !== c.levels.length + 1) {
        problems.push({
          file,
          field: `comparisons.${i}.${p}`,
          message: `${given.length} probabilities for ${c.levels.length} levels: give one per level and a last one for "else"`,
        });
      } else if (given && Math.abs(given.reduce((a, b) => a + b, 0) - 1) > 0.001) {
        problems.push({ file, field: `comparisons.${i}.${p}`, message: 'the probabilities (one per level and "else") must add up to 1' });
      }
    }
    if (c.pin && !(c.m && c.u)) problems.push({ file, field: `comparisons.${i}.pin`, message: 'a pinned comparison needs m and u' });
    for (const level of c.levels) {
      if ('swappedWith' in level && !compared.has(level.swappedWith)) {
        problems.push({
          file,
          field: `comparisons.${i}.levels`,
          message: `swappedWith names "${level.swappedWith}", which no comparison compares`,
        });
      }
    }
  }
  for (const [kind, rules] of [
    ['blocking', merged.blocking],
    ['deterministic', merged.deterministic],
  ] as const) {
    for (const [i, rule] of rules.entries()) {
      for (const key of rule) {
        if (!isKnownField(key.split(':')[0] ?? '')) problems.push({ file, field: `${kind}.${i}`, message: `unknown field "${key}"` });
      }
    }
  }
  for (const [i, rule] of stated.entries()) {
    if (rule.whileRarerThan !== undefined && !rule.unless) {
      problems.push({
        file,
        field: `cannotLink.${i}.whileRarerThan`,
        message: 'whileRarerThan measures pairs that agree on an unless field: give unless',
      });
    }
    for (const field of [...rule.disagree, ...(rule.unless ?? [])]) {
      if (!compared.has(field))
        problems.push({ file, field: `cannotLink.${i}`, message: `"${field}" is not compared: add a comparison for it` });
    }
  }
  merged.cannotLink = [
    ...inherited
      .filter((rule) => rule.disagree.every((f) => compared.has(f)))
      .map((rule) => (rule.unless ? { ...rule, unless: rule.unless.filter((f) => compared.has(f)) } : rule)),
    ...stated,
  ];
  return merged;
}

/** What person comparisons and rules may name: the comparable paths of the field registry. */
export const KNOWN_FIELDS = comparablePaths('person');

/** A person path comparisons may name: a comparable path, or a free-form attribute (`attributes.occupation`). */
export const isKnownField = (field: string): boolean => KNOWN_FIELDS.has(field) || /^attributes\.[A-Za-z0-9_-]{1,64}$/.test(field);

/** What account comparisons and blocking rules may name: an account's fields. */
export const ACCOUNT_FIELDS = comparablePaths('account');

function checkAccount(file: string, account: AccountIdentityConfig | undefined, problems: ConfigProblem[]) {
  if (!account) {
    problems.push({ file, field: 'account', message: 'the account section is missing' });
    return;
  }
  for (const [i, c] of account.comparisons.entries()) {
    if (!ACCOUNT_FIELDS.has(c.field)) {
      problems.push({
        file,
        field: `account.comparisons.${i}.field`,
        message: `unknown account field "${c.field}"; one of ${[...ACCOUNT_FIELDS].join(', ')}`,
      });
    }
    for (const p of ['m', 'u'] as const) {
      if (c[p].length !== c.levels.length + 1) {
        problems.push({
          file,
          field: `account.comparisons.${i}.${p}`,
          message: `${c[p].length} probabilities for ${c.levels.length} levels: give one per level and a last one for "else"`,
        });
      }
    }
  }
  for (const [i, rule] of account.blocking.entries()) {
    for (const key of rule) {
      if (!ACCOUNT_FIELDS.has(key.split(':')[0] ?? ''))
        problems.push({ file, field: `account.blocking.${i}`, message: `unknown account field "${key}"` });
    }
  }
}

/** The defaults, overridden key by key by `identity.yaml` in the workspace when it exists. */
export function loadIdentityConfig(workspaceDir: string | undefined): IdentityConfig {
  const problems: ConfigProblem[] = [];
  const defaults = parse(DEFAULT_IDENTITY_FILE, readFileSync(DEFAULT_IDENTITY_FILE, 'utf8'), undefined, problems);
  if (!defaults) throw new ConfigError(problems);
  if (!workspaceDir) return defaults;
  const file = path.join(workspaceDir, IDENTITY_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return defaults;
  }
  const config = parse(path.relative(process.cwd(), file) || file, text, defaults, problems);
  if (!config || problems.length > 0) throw new ConfigError(problems);
  if (config.nicknames && !path.isAbsolute(config.nicknames)) config.nicknames = path.join(workspaceDir, config.nicknames);
  return config;
}

const blockedCache = new WeakMap<readonly string[], ReadonlySet<string>>();
/** The configured blocked values as a set, lowercased, built once per configuration. */
export function blockedValues(values: readonly string[]): ReadonlySet<string> {
  let set = blockedCache.get(values);
  if (!set) {
    set = new Set(values.map((v) => v.toLowerCase()));
    blockedCache.set(values, set);
  }
  return set;
}
