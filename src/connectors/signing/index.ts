import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VerifyResult } from '../types.ts';

/** HMAC of `data` (the body's exact bytes, as its strictly decoded UTF-8 string) in `encoding`. */
export function hmac(algorithm: 'sha1' | 'sha256', secret: string, data: string, encoding: 'hex' | 'base64'): string {
  return createHmac(algorithm, secret).update(data, 'utf8').digest(encoding);
}

/** Compares two signatures in constant time; different lengths are simply unequal. */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether any expected signature matches any given one (several secrets or several signatures). */
export function anyMatch(given: readonly string[], expected: readonly string[]): boolean {
  let found = false;
  // Every comparison runs, so the time taken does not tell which one matched.
  for (const g of given) for (const e of expected) found = constantTimeEqual(g, e) || found;
  return found;
}

/**
 * A vendor timestamp checked against the tolerance, either way (a clock ahead is as suspect as a
 * replay). `seconds` is the timestamp in seconds since the epoch.
 */
export function checkTimestamp(seconds: number, toleranceSeconds: number, now: Date, header: string): VerifyResult | undefined {
  if (!Number.isFinite(seconds)) return { ok: false, code: 'signature_invalid', message: `${header} is not a timestamp` };
  const skew = Math.abs(now.getTime() / 1000 - seconds);
  if (skew > toleranceSeconds) {
    return {
      ok: false,
      code: 'timestamp_out_of_tolerance',
      message: `${header} is ${Math.round(skew)} s away from now; at most ${toleranceSeconds} s is accepted`,
    };
  }
  return undefined;
}

export const missing = (header: string): VerifyResult => ({ ok: false, code: 'signature_missing', message: `${header} header is missing` });
export const mismatch = (header: string): VerifyResult => ({
  ok: false,
  code: 'signature_invalid',
  message: `${header} does not match the body`,
});
export const noSecret: VerifyResult = { ok: false, code: 'secret_missing', message: 'the source has no signing secret configured' };

/** The config keys of a signed webhook: its secret, and the ones still accepted during a rotation. */
export const secretProperties = {
  secret: { type: 'string', minLength: 16 },
  previousSecrets: { type: 'array', items: { type: 'string', minLength: 16 } },
} as const;

/** The secrets a source verifies with: `secret`, plus `previousSecrets` while a rotation is under way. */
export function secretsOf(config: { secret?: string; previousSecrets?: string[] }): string[] {
  return [config.secret, ...(config.previousSecrets ?? [])].filter((s): s is string => typeof s === 'string' && s !== '');
}
