import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { safeError } from '../log/log.ts';

/** Every expected failure, by its stable code, with its HTTP status. */
export const ERROR_STATUS = {
  unauthorized: 401,
  signature_missing: 401,
  signature_invalid: 401,
  secret_missing: 401,
  timestamp_out_of_tolerance: 401,
  forbidden: 403,
  not_found: 404,
  unknown_source: 404,
  profile_not_found: 404,
  account_not_found: 404,
  destination_not_found: 404,
  key_not_found: 404,
  record_not_found: 404,
  erasure_not_found: 404,
  malformed_json: 400,
  malformed_body: 400,
  invalid_request: 400,
  body_too_large: 413,
  record_too_large: 413,
  request_timeout: 408,
  too_many_connections: 503,
  json_too_deep: 400,
  unsupported_format: 415,
  webhook_replayed: 409,
  sync_in_progress: 409,
  key_name_taken: 409,
  /** Names the hub itself acts under in the audit log (`aurum`, `cli`, `env:*`, `source:*`). */
  key_name_reserved: 400,
  not_pullable: 422,
  invalid_config: 422,
  destination_private: 422,
  unknown_field: 422,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }
}

export function errorBody(code: ErrorCode, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** The one place an error becomes a response: `{error: {code, message}}` with the right status. */
export function handleError(log: Logger) {
  return (error: Error, c: Context) => {
    if (error instanceof ApiError) {
      return c.json(errorBody(error.code, error.message, error.details), ERROR_STATUS[error.code]);
    }
    // Bugs: logged with the route, never with the request body (it may hold personal data).
    log.error({ error: safeError(error), method: c.req.method, path: c.req.routePath }, 'unhandled error');
    return c.json(errorBody('internal', 'internal error'), 500);
  };
}
