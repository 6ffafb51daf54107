import { Ajv, type JSONSchemaType } from 'ajv';
import addFormats from 'ajv-formats';
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, strict: true });
addFormats.default(ajv, ['uri', 'uuid', 'date-time']);

/**
 * Compiles a request-body validator once; the route then receives a typed value. The validator
 * carries its schema, so the API document (`describeRoute`) declares the body with the same one.
 */
export function bodyValidator<T>(schema: JSONSchemaType<T>) {
  const validate = ajv.compile(schema);
  const read = async (c: Context, options: { optional?: boolean } = {}): Promise<T> => {
    const text = await c.req.text();
    let value: unknown;
    if (text.trim() === '' && options.optional) value = {};
    else {
      try {
        value = JSON.parse(text);
      } catch {
        throw new ApiError('malformed_json', 'the request body is not valid JSON');
      }
    }
    if (!validate(value)) {
      const problems = (validate.errors ?? []).map((e) => {
        const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : '';
        return `${e.instancePath || 'body'} ${e.message ?? 'is invalid'}${extra}`;
      });
      throw new ApiError('invalid_request', problems.join('; '));
    }
    return value;
  };
  return Object.assign(read, { schema: schema as Record<string, unknown> });
}

/** `?limit=` clamped to 1..max, default `fallback`. */
export function pageLimit(c: Context, fallback = 100, max = 1000): number {
  const asked = Number(c.req.query('limit') ?? fallback) || fallback;
  return Math.min(Math.max(Math.trunc(asked), 1), max);
}

/**
 * A list's `next`: the position after the last item sent, as an opaque string the caller passes back
 * as `?cursor=`. Opaque so a route may change what it orders by without breaking callers' code.
 */
export const encodeCursor = (position: readonly (string | number)[]): string => Buffer.from(JSON.stringify(position)).toString('base64url');

/**
 * `?cursor=` decoded to the position `encodeCursor` wrote, checked against `shape` (one `typeof` per
 * element); undefined when absent. A cursor that is not one answers 400, never a 500 or an empty page.
 */
export function cursorQuery(c: Context, shape: readonly ('string' | 'number')[]): (string | number)[] | undefined {
  const cursor = c.req.query('cursor');
  if (cursor === undefined || cursor === '') return undefined;
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    position = undefined;
  }
  const fits =
    Array.isArray(position) &&
    position.length === shape.length &&
    position.every((v, i) => typeof v === shape[i] && (typeof v !== 'number' || Number.isSafeInteger(v)));
  if (!fits) throw new ApiError('invalid_request', 'cursor must be the `next` of a previous page');
  return position as (string | number)[];
}

/**
 * `?cursor=` of a list whose `next` is a plain id, or the older name the route documented for it
 * (`after`, `before`): both take the previous page's `next`, so old callers keep working.
 */
export function cursorOrOlder(c: Context, olderName: 'after' | 'before'): string | undefined {
  const value = c.req.query('cursor') || c.req.query(olderName);
  return value === '' ? undefined : value;
}
