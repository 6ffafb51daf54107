import type { Role } from '../config/settings.ts';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';
import { type Audience, permits } from './roles.ts';

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1). */
export type Schema = Record<string, unknown>;
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * What a route declares about itself, beside the route: the one source of `GET /openapi.json`.
 * `audience` is the `allow(...)` the route is mounted with; `anyone` takes no key, `signed` is a
 * webhook whose signature is its authentication.
 */
export interface RouteSpec {
  summary: string;
  tag: string;
  audience: Audience | 'anyone' | 'signed';
  description?: string;
  query?: Record<string, Schema & { description?: string; required?: boolean }>;
  /** A request body: its schema (a `bodyValidator`'s, so the check and the document are one declaration). */
  body?: { schema: Schema; required?: boolean; contentType?: string | string[]; description?: string };
  /** Success answers by status; `schema` is the JSON body, none for an empty answer. */
  responses: Record<number, { description: string; schema?: Schema; contentType?: string }>;
  /** The expected failures the route answers, beyond those every authenticated route or body can. */
  errors?: ErrorCode[];
}

const declared = new Map<string, RouteSpec>();
/** Least privileged first, as `ROLES_FOR` lists them. */
const ROLE_ORDER: readonly Role[] = ['reader', 'ops', 'compliance', 'admin'];

/**
 * Declares a route for the API document: `describeRoute('GET /audit', {...})` beside
 * `.get('/audit', allow('compliance'), ...)`. A route served without one fails test/openapi.test.ts.
 */
export function describeRoute(route: `${Method} /${string}`, spec: RouteSpec): void {
  if (declared.has(route)) throw new Error(`${route} is declared twice`);
  declared.set(route, spec);
}

/** The routes declared so far, as `METHOD /path` (Hono's path syntax). */
export const declaredRoutes = (): string[] => [...declared.keys()];

/**
 * The ajv schemas of request bodies use ajv's `nullable: true`; JSON Schema 2020-12 spells it as a
 * `null` type (and a `null` in an enum). Converted here so the bodies are declared once, for ajv.
 */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    out[key] = key === 'properties' || key === '$defs' ? mapValues(value, toJsonSchema) : key === 'enum' ? value : toJsonSchema(value);
  }
  if (nullable === true) {
    if (typeof out['type'] === 'string') out['type'] = [out['type'], 'null'];
    if (Array.isArray(out['enum'])) out['enum'] = [...out['enum'], null];
  }
  return out;
}
const mapValues = (value: unknown, f: (v: unknown) => unknown) =>
  Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, f(v)]));

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  500: 'Internal error',
  503: 'Unavailable',
};

const errorComponent: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
        message: { type: 'string' },
        details: {},
      },
    },
  },
};

/** The failures a route can answer: its own, those of its body and key, and a bug. */
function errorCodes(spec: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(spec.errors ?? []);
  if (spec.audience !== 'anyone' && spec.audience !== 'signed') codes.add('unauthorized').add('forbidden');
  if (spec.body && (spec.body.contentType ?? 'application/json') === 'application/json') {
    codes.add('malformed_json').add('invalid_request');
    if (spec.audience !== 'anyone' && spec.audience !== 'signed') codes.add('body_too_large');
  }
  codes.add('internal');
  return [...codes];
}

function operation(route: string, spec: RouteSpec) {
  const [method, path] = route.split(' ') as [string, string];
  const pathParams = [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const queryParams = Object.entries(spec.query ?? {}).map(([name, { description, required, ...schema }]) => ({
    name,
    in: 'query',
    required: required === true,
    ...(description ? { description } : {}),
    schema,
  }));
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodes(spec)) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${codes.join(', ')}`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  const authenticated = spec.audience !== 'anyone' && spec.audience !== 'signed';
  return {
    method: method.toLowerCase(),
    path: path.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
    operation: {
      operationId: `${method.toLowerCase()}${path.replace(/[/:{}-]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      ...(pathParams.length + queryParams.length > 0 ? { parameters: [...pathParams, ...queryParams] } : {}),
      ...(spec.body
        ? {
            requestBody: {
              required: spec.body.required !== false,
              ...(spec.body.description ? { description: spec.body.description } : {}),
              content: Object.fromEntries(
                [spec.body.contentType ?? 'application/json'].flat().map((type) => [type, { schema: toJsonSchema(spec.body?.schema) }]),
              ),
            },
          }
        : {}),
      responses,
      ...(authenticated
        ? { security: [{ apiKey: [] }], 'x-aurum-roles': ROLE_ORDER.filter((r) => permits(r, spec.audience as Audience)) }
        : { security: [] }),
    },
  };
}

/** The OpenAPI 3.1 document of every declared route. */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [route, spec] of [...declared].sort(([a], [b]) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!))) {
    const { method, path, operation: op } = operation(route, spec);
    paths[path] = { ...paths[path], [method]: op };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Aurum API',
      version,
      description:
        'Every route but /health, /openapi.json, /docs and the webhooks takes an API key: `Authorization: Bearer <token>`. ' +
        '`x-aurum-roles` lists the roles that may call an operation. Errors are `{error: {code, message}}`.',
    },
    paths,
    components: {
      schemas: { Error: errorComponent },
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An Aurum API key' } },
    },
  };
}

/** Schema shorthands for declarations: `obj({id: str}, ['note'])` has every property required but `note`. */
export const str: Schema = { type: 'string' };
export const int: Schema = { type: 'integer' };
export const num: Schema = { type: 'number' };
export const bool: Schema = { type: 'boolean' };
export const uuid: Schema = { type: 'string', format: 'uuid' };
export const dateTime: Schema = { type: 'string', format: 'date-time' };
export const any: Schema = {};
export const nullable = (schema: Schema): Schema => ({ oneOf: [schema, { type: 'null' }] });
export const arr = (items: Schema): Schema => ({ type: 'array', items });
export const obj = (properties: Record<string, Schema>, optional: string[] = [], extra = false): Schema => ({
  type: 'object',
  additionalProperties: extra,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
});
export const strEnum = (...values: string[]): Schema => ({ type: 'string', enum: values });
/** `?limit=` as `pageLimit` reads it. */
export const limitQuery = (fallback: number, max: number) => ({
  type: 'integer',
  minimum: 1,
  maximum: max,
  default: fallback,
  description: `page size (clamped to 1..${max})`,
});
