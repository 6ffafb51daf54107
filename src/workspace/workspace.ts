import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError, type ConfigProblem, YamlFile } from '../config/yaml-file.ts';
import { connectorTypes } from '../connectors/registry.ts';
import { loadPurposes, type Purposes } from '../consent/purposes.ts';
import { type CompiledMapping, compileMapping, mappingFileSchema } from '../mapping/mapping-file.ts';
import { type IdentityConfig, loadIdentityConfig } from '../resolution/probabilistic/config.ts';

/** One source: a `connectors/<name>.yaml` file. */
export interface Source {
  name: string;
  type: string;
  /** Survivorship rank: higher wins. */
  priority: number;
  file: string;
  /** The type's own keys, validated against its schema, with `${VAR}` resolved (`baseUrl` among them). */
  config: Record<string, unknown>;
  /** Cron expression: when to pull (types that pull only). */
  schedule?: string;
  /** Requests per second at most when pulling. */
  rateLimit?: number;
}

export interface Workspace {
  dir: string;
  sources: ReadonlyMap<string, Source>;
  mappings: readonly CompiledMapping[];
  /** `identity.yaml`, or the defaults. */
  identity: IdentityConfig;
  /** `consent.yaml`: the purposes consent is asked for. */
  purposes: Purposes;
}

const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validateMappingFile = ajv.compile(mappingFileSchema);
const sourceValidators = new Map(
  [...connectorTypes.values()].map((connector) => {
    const own = connector.configSchema as { properties?: object; required?: string[] };
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: { const: connector.type },
        priority: { type: 'integer', default: 0 },
        ...(connector.pull
          ? {
              schedule: { type: 'string', minLength: 9, description: 'cron: how often to pull' },
              rateLimit: { type: 'number', exclusiveMinimum: 0, maximum: 1000, description: 'requests/s at most' },
              baseUrl: { type: 'string', pattern: '^https?://' },
            }
          : {}),
        ...own.properties,
      },
      required: ['type', ...(own.required ?? [])],
    };
    return [connector.type, ajv.compile(schema)] as const;
  }),
);

function yamlFiles(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) return [];
  } catch {
    return [];
  }
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

export interface LoadOptions {
  /**
   * `${VAR}`s must be set (default). Commands that neither verify webhooks nor pull (`train`) say
   * false: an unset variable is then no problem, and reads as an empty string.
   */
  requireEnv?: boolean;
}

/**
 * Reads, validates and compiles the workspace under `dir`: every connector and mapping file, every
 * JSONata expression, and every cross-reference. Throws a ConfigError listing every problem found.
 */
export function loadWorkspace(dir: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Workspace {
  const problems: ConfigProblem[] = [];
  const sources = new Map<string, Source>();
  /** Every connectors/ file by source name, valid or not: a mapping of a broken source is still checked. */
  const declared = new Map<string, string | undefined>();
  const relative = (file: string) => path.relative(process.cwd(), file) || file;

  for (const name of yamlFiles(path.join(dir, 'connectors'))) {
    const file = relative(path.join(dir, 'connectors', name));
    const sourceName = name.replace(/\.ya?ml$/, '');
    if (!SOURCE_NAME.test(sourceName)) {
      problems.push({ file, message: 'the file name is the source name: use lowercase letters, digits, - and _' });
      continue;
    }
    declared.set(sourceName, undefined);
    const yaml = new YamlFile(file, readFileSync(path.join(dir, 'connectors', name), 'utf8'), problems);
    if (yaml.value === undefined) continue;
    const unset: ConfigProblem[] = [];
    const value = yaml.interpolate(env, unset) as Record<string, unknown> | null;
    if (options.requireEnv ?? true) problems.push(...unset);
    // An unset variable is the problem at its field; what its empty stand-in fails there is noise.
    const unsetFields = new Set(unset.map((p) => p.field));
    const type = value && typeof value === 'object' ? value['type'] : undefined;
    const validate = typeof type === 'string' ? sourceValidators.get(type) : undefined;
    if (!validate) {
      problems.push({
        file,
        field: 'type',
        ...lineOf(yaml, ['type']),
        message: `must be one of ${[...connectorTypes.keys()].join(', ')}`,
      });
      continue;
    }
    declared.set(sourceName, type as string);
    if (!validate(value)) {
      const found = yaml.schemaProblems(validate.errors).filter((p) => !unsetFields.has(p.field));
      problems.push(...found);
      if (found.length > 0) continue;
    }
    if (typeof value?.['schedule'] === 'string') {
      try {
        CronExpressionParser.parse(value['schedule']);
      } catch (error) {
        problems.push({
          file,
          field: 'schedule',
          ...lineOf(yaml, ['schedule']),
          message: `not a cron expression: ${(error as Error).message}`,
        });
        continue;
      }
    }
    const {
      type: _type,
      priority,
      schedule,
      rateLimit,
      ...config
    } = value as {
      type: string;
      priority: number;
      schedule?: string;
      rateLimit?: number;
    };
    sources.set(sourceName, {
      name: sourceName,
      type: type as string,
      priority,
      file,
      config,
      ...(schedule ? { schedule } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    });
  }

  const mappings: CompiledMapping[] = [];
  /** Sources with a mapping file of their own, compiled or not: they take no default mapping. */
  const mapped = new Set<string>();
  for (const name of yamlFiles(path.join(dir, 'mappings'))) {
    const file = relative(path.join(dir, 'mappings', name));
    const text = readFileSync(path.join(dir, 'mappings', name), 'utf8');
    const yaml = new YamlFile(file, text, problems);
    if (yaml.value === undefined) continue;
    if (!validateMappingFile(yaml.value)) {
      problems.push(...yaml.schemaProblems(validateMappingFile.errors));
      continue;
    }
    const spec = yaml.value;
    mapped.add(spec.source);
    if (!declared.has(spec.source)) {
      problems.push({
        file,
        field: 'source',
        ...lineOf(yaml, ['source']),
        message: `unknown source "${spec.source}": there is no connectors/${spec.source}.yaml`,
      });
      continue;
    }
    const hash = createHash('sha256').update(text).digest('hex');
    const compiled = compileMapping(file, hash, spec, (field, message) =>
      problems.push({ file, field, ...lineOf(yaml, [field]), message }),
    );
    if (compiled) mappings.push(compiled);
  }

  // A source with no mapping of its own uses its connector type's default mappings.
  for (const [sourceName, type] of declared) {
    const folder = type ? connectorTypes.get(type)?.defaultMappings : undefined;
    if (!folder || mapped.has(sourceName)) continue;
    for (const name of yamlFiles(folder)) {
      const text = readFileSync(path.join(folder, name), 'utf8');
      const file = `${relative(path.join(folder, name))} (default for source "${sourceName}")`;
      const yaml = new YamlFile(file, text, problems);
      if (yaml.value === undefined) continue;
      const spec = { ...(yaml.value as object), source: sourceName };
      if (!validateMappingFile(spec)) {
        problems.push(...yaml.schemaProblems(validateMappingFile.errors));
        continue;
      }
      const hash = createHash('sha256').update(`${sourceName}\n${text}`).digest('hex');
      const compiled = compileMapping(file, hash, spec, (field, message) =>
        problems.push({ file, field, ...lineOf(yaml, [field]), message }),
      );
      if (compiled) mappings.push(compiled);
    }
  }

  const seen = new Map<string, string>();
  for (const m of mappings) {
    const key = `${m.source}/${m.object}`;
    const other = seen.get(key);
    if (other)
      problems.push({ file: m.file, field: 'object', message: `${other} already maps object "${m.object}" of source "${m.source}"` });
    seen.set(key, m.file);
  }

  let identity: IdentityConfig | undefined;
  try {
    identity = loadIdentityConfig(dir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  const purposes = loadPurposes(dir, problems);
  if (problems.length > 0 || !identity) throw new ConfigError(problems);
  return { dir, sources, mappings, identity, purposes };
}

function lineOf(yaml: YamlFile, at: string[]): { line?: number } {
  const line = yaml.lineOf(at);
  return line === undefined ? {} : { line };
}
