// Used by the connector types' tests (src/connectors/<type>/index.test.ts).
import { createHmac } from 'node:crypto';
import type { WebhookRequest } from '../types.ts';

/** Test vectors: HMACs computed here by each vendor's documented algorithm, not by the code under test. */
export const hmacOf = (algorithm: 'sha1' | 'sha256', secret: string, data: string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);

export function webhookRequest(url: string, headers: Record<string, string>, body: string, receivedAt = new Date()): WebhookRequest {
  return { method: 'POST', url: new URL(url), headers: new Headers(headers), body, receivedAt };
}
