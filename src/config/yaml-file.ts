import type { ErrorObject } from 'ajv';
import { type Document, isScalar, LineCounter, parseDocument } from 'yaml';

/** One thing wrong with the workspace, located as precisely as the file allows. */
export interface ConfigProblem {
  file: string;
  field?: string;
  line?: number;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}${p.line ? `:${p.line}` : ''}`;
  return `  - ${where}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
}

/** A parsed YAML file that can say on which line a field stands. */
export class YamlFile {
  readonly file: string;
  readonly text: string;
  readonly value: unknown;
  readonly #doc: Document;
  readonly #lines: LineCounter;

  constructor(file: string, text: string, problems: ConfigProblem[]) {
    this.file = file;
    this.text = text;
    this.#lines = new LineCounter();
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false });
    for (const error of this.#doc.errors) {
      problems.push({ file, line: this.#lines.linePos(error.pos[0]).line, message: error.message.split('\n')[0] ?? 'YAML error' });
    }
    this.value = this.#doc.errors.length > 0 ? undefined : this.#doc.toJS();
  }

  lineOf(path: readonly (string | number)[]): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.#doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return this.#lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** Replaces `${VAR}` in string values from `env`; an unset variable is a problem naming it. */
  interpolate(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
    const walk = (value: unknown, at: (string | number)[]): unknown => {
      if (typeof value === 'string') {
        return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
          const resolved = env[name];
          if (resolved === undefined || resolved === '') {
            problems.push({ file: this.file, field: at.join('.'), ...this.#line(at), message: `environment variable ${name} is not set` });
            return '';
          }
          return resolved;
        });
      }
      if (Array.isArray(value)) return value.map((v, i) => walk(v, [...at, i]));
      if (value && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...at, k])]));
      }
      return value;
    };
    return walk(this.value, []);
  }

  /** Turns ajv's errors into problems with the field path and its line. */
  schemaProblems(errors: ErrorObject[] | null | undefined): ConfigProblem[] {
    return (errors ?? []).map((error) => {
      const at = error.instancePath.split('/').slice(1).map(decodePointer);
      let message = error.message ?? 'is invalid';
      if (error.keyword === 'additionalProperties') {
        const extra = String(error.params['additionalProperty']);
        at.push(extra);
        message = 'is not a known field';
      }
      if (error.keyword === 'enum') message += `: ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
      const field = at.join('.') || undefined;
      return { file: this.file, ...(field ? { field } : {}), ...this.#line(at), message };
    });
  }

  isScalarAt(path: readonly (string | number)[]): boolean {
    return isScalar(this.#doc.getIn(path, true));
  }

  #line(at: readonly (string | number)[]): { line?: number } {
    const line = this.lineOf(at);
    return line === undefined ? {} : { line };
  }
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
