import pino, { type Logger } from 'pino';

/**
 * Structured logs to stderr. Nothing personal goes in: log ids, counts and codes, never payloads,
 * profiles or identifiers. The redaction below is a backstop, not the policy.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'aurum' },
      redact: { paths: ['*.payload', '*.profile', '*.email', '*.phone', 'req.headers.authorization'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}

/**
 * An error as it may be logged: drizzle's query errors carry the query's parameters (personal
 * data) in their message, so keep the name, code and the database's own message only.
 */
export function safeError(error: unknown): { name: string; code?: string; message: string } {
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'DrizzleQueryError' || e?.message?.startsWith('Failed query')) {
    return { name: 'DrizzleQueryError', ...(e.cause?.code ? { code: e.cause.code } : {}), message: e.cause?.message ?? 'query failed' };
  }
  return {
    name: e?.name ?? 'Error',
    ...(e?.code ? { code: String(e.code) } : {}),
    message: String(e?.message ?? error).split('\n')[0] ?? '',
  };
}
