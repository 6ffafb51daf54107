import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { type ConfigProblem, YamlFile } from '../config/yaml-file.ts';

export const CONSENT_FILE = 'consent.yaml';

export interface Purpose {
  name: string;
  description: string;
  /** The status assumed for a profile with no entry for the purpose. */
  default: 'granted' | 'denied';
}

/**
 * The purposes consent is asked for, from `consent.yaml`. Without the file, any purpose a mapping
 * names is accepted and assumed denied until granted; with it, only the declared ones are, and a
 * record naming another is quarantined. A name ending in `.*` declares a family
 * (`marketing.*` covers Mailchimp's `marketing.email`, `marketing.direct-mail`, …).
 */
export class Purposes {
  readonly declared: readonly Purpose[];
  /** False when there is no consent.yaml: every purpose is accepted. */
  readonly strict: boolean;
  readonly #exact = new Map<string, Purpose>();
  readonly #families: Purpose[] = [];

  constructor(declared: readonly Purpose[], strict: boolean) {
    this.declared = declared;
    this.strict = strict;
    for (const p of declared) {
      if (p.name.endsWith('.*')) this.#families.push(p);
      else this.#exact.set(p.name, p);
    }
  }

  /** The declaration that covers a purpose, if any. */
  find(name: string): Purpose | undefined {
    return this.#exact.get(name) ?? this.#families.find((f) => name.startsWith(f.name.slice(0, -1)));
  }

  known(name: string): boolean {
    return !this.strict || this.find(name) !== undefined;
  }

  /** The status assumed when a profile has no entry for the purpose. */
  defaultOf(name: string): 'granted' | 'denied' {
    return this.find(name)?.default ?? 'denied';
  }
}

const PURPOSE_NAME = '^[a-z0-9][a-z0-9_.-]{0,63}$|^[a-z0-9][a-z0-9_.-]{0,61}\\.\\*$';
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['purposes'],
  properties: {
    purposes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'description'],
        properties: {
          name: { type: 'string', pattern: PURPOSE_NAME },
          description: { type: 'string', minLength: 1 },
          default: { enum: ['granted', 'denied'], default: 'denied' },
        },
      },
    },
  },
} as const;
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile<{ purposes: Purpose[] }>(schema);

/** `consent.yaml` in the workspace, validated; problems are added to `problems`. */
export function loadPurposes(workspaceDir: string, problems: ConfigProblem[]): Purposes {
  const file = path.join(workspaceDir, CONSENT_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Purposes([], false);
  }
  const yaml = new YamlFile(path.relative(process.cwd(), file) || file, text, problems);
  if (yaml.value === undefined) return new Purposes([], true);
  if (!validate(yaml.value)) {
    problems.push(...yaml.schemaProblems(validate.errors));
    return new Purposes([], true);
  }
  const seen = new Set<string>();
  for (const [i, p] of yaml.value.purposes.entries()) {
    if (seen.has(p.name)) problems.push({ file: yaml.file, field: `purposes.${i}.name`, message: `purpose "${p.name}" is declared twice` });
    seen.add(p.name);
  }
  return new Purposes(yaml.value.purposes, true);
}
