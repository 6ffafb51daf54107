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
