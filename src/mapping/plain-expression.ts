import type jsonata from 'jsonata';

/**
 * Most mappings are, in whole or in part, plain reshaping: object and array constructors around
 * field paths (`{"name": {"given": first_name}, "emails": [email]}`, `recordId: id`). JSONata 2
 * evaluates every step through promises, about 30 µs a record for such a profile: more than half of
 * what mapping costs in `aurum resolve`. This evaluates that subset directly, with JSONata's
 * semantics, and hands everything else to JSONata: an expression outside the subset at compile
 * time, and an input it cannot follow at run time (an array on a path, where JSONata maps over
 * sequences).
 */

/** Thrown when an input leaves the subset; the caller evaluates with JSONata instead. */
const FALLBACK = Symbol('evaluate with JSONata');

type Plain = (input: unknown) => unknown;

interface Node {
  type: string;
  value?: unknown;
  steps?: Node[];
  lhs?: unknown;
  expressions?: Node[];
  [key: string]: unknown;
}

/** Keys a node of the subset may carry: anything else (a predicate, a stage, a group) leaves it. */
const PLAIN_KEYS = new Set(['type', 'value', 'position', 'steps', 'lhs', 'expressions', 'consarray']);
/** Keys a literal key of an object constructor may carry (`"a"[false]: …` is a filtered key). */
const LITERAL_KEYS = new Set(['type', 'value', 'position']);
/**
 * Object keys JSONata treats specially: `__proto__` is an own key in JSONata's objects (made
 * without a prototype) but the prototype's setter in ours, and JSONata takes an object marked with
 * the other two for a function.
 */
const SPECIAL_KEYS = new Set(['__proto__', '_jsonata_function', '_jsonata_lambda']);

/** An input object JSONata takes for a function, and so does not look into. */
const isFunctionLike = (value: object) =>
  (value as Record<string, unknown>)['_jsonata_function'] === true || (value as Record<string, unknown>)['_jsonata_lambda'] === true;

function plain(node: Node): Plain | undefined {
  if (Object.keys(node).some((k) => !PLAIN_KEYS.has(k))) return undefined;
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'path':
      return path(node.steps ?? []);
    case 'unary':
      if (node.value === '{') return object(node.lhs);
      if (node.value === '[') return array(node.expressions ?? []);
      return undefined;
    default:
      return undefined;
  }
}

/** `a.b.c`: field names only, read as JSONata's lookup does (own properties of objects). */
function path(steps: readonly Node[]): Plain | undefined {
  const names: string[] = [];
  for (const step of steps) {
    if (step.type !== 'name' || typeof step.value !== 'string' || Object.keys(step).some((k) => !PLAIN_KEYS.has(k))) return undefined;
    names.push(step.value);
  }
  if (names.length === 0) return undefined;
  return (input) => {
    let current = input;
    for (const name of names) {
      if (Array.isArray(current)) throw FALLBACK;
      if (current === null || typeof current !== 'object') return undefined;
      if (isFunctionLike(current)) throw FALLBACK;
      if (!Object.hasOwn(current, name)) return undefined;
      current = (current as Record<string, unknown>)[name];
    }
    // A path ending on an array is a sequence in JSONata (flattened into constructors): leave it.
    if (Array.isArray(current)) throw FALLBACK;
    return current;
  };
}

/** `{"k": expr, …}` with literal keys, each once: a value that is undefined leaves its key out. */
function object(lhs: unknown): Plain | undefined {
  if (!Array.isArray(lhs)) return undefined;
  const pairs: [string, Plain][] = [];
  for (const pair of lhs as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [key, value] = pair as [Node, Node];
    if (key.type !== 'string' || typeof key.value !== 'string' || Object.keys(key).some((k) => !LITERAL_KEYS.has(k))) return undefined;
    if (SPECIAL_KEYS.has(key.value) || pairs.some(([k]) => k === key.value)) return undefined;
    const evaluate = plain(value);
    if (!evaluate) return undefined;
    pairs.push([key.value, evaluate]);
  }
  return (input) => {
    const out: Record<string, unknown> = {};
    for (const [key, evaluate] of pairs) {
      const value = evaluate(input);
      if (value !== undefined) out[key] = value;
    }
    return out;
  };
}

/** `[expr, …]`: undefined items are left out, as JSONata's array constructor does. */
function array(items: readonly Node[]): Plain | undefined {
  const evaluators: Plain[] = [];
  for (const item of items) {
    const evaluate = plain(item);
    if (!evaluate) return undefined;
    evaluators.push(evaluate);
  }
  return (input) => {
    const out: unknown[] = [];
    for (const evaluate of evaluators) {
      const value = evaluate(input);
      if (value !== undefined) out.push(value);
    }
    return out;
  };
}

/** Something that evaluates a mapping's expression against a record: a compiled JSONata expression, or faster. */
export interface MappingExpression {
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

/**
 * The expression, evaluated directly where it is plain reshaping of a plain input (see above), by
 * JSONata otherwise. Inputs that are arrays always go to JSONata.
 */
export function withPlainPath(compiled: jsonata.Expression): MappingExpression {
  const direct = plain(compiled.ast() as unknown as Node);
  if (!direct) return compiled;
  return {
    evaluate(input, bindings) {
      if (Array.isArray(input)) return compiled.evaluate(input, bindings);
      try {
        return Promise.resolve(direct(input));
      } catch (e) {
        if (e === FALLBACK) return compiled.evaluate(input, bindings);
        throw e;
      }
    },
  };
}
