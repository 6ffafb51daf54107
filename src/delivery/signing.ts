import { createHmac, randomBytes } from 'node:crypto';

export type SignatureScheme = 'github' | 'standard-webhooks';

/** A new secret in the scheme's own format: hex for GitHub style, `whsec_<base64>` for Standard Webhooks. */
export function newSecret(scheme: SignatureScheme): string {
  const bytes = randomBytes(32);
  return scheme === 'standard-webhooks' ? `whsec_${bytes.toString('base64')}` : bytes.toString('hex');
}

/**
 * The headers that sign one delivery's exact bytes. During a rotation's overlap both the new and
 * the previous secret sign: Standard Webhooks lists both in `webhook-signature` (space-separated, as
 * the specification allows); GitHub style adds `X-Aurum-Signature-256-Previous`.
 */
export function signatureHeaders(
  scheme: SignatureScheme,
  secrets: { current: string; previous?: string | undefined },
  delivery: { id: string; body: string; timestamp: number },
): Record<string, string> {
  if (scheme === 'github') {
    const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(delivery.body).digest('hex')}`;
    return {
      'x-aurum-signature-256': sign(secrets.current),
      ...(secrets.previous ? { 'x-aurum-signature-256-previous': sign(secrets.previous) } : {}),
    };
  }
  // Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` under the base64 key after `whsec_`.
  const content = `${delivery.id}.${delivery.timestamp}.${delivery.body}`;
  const sign = (secret: string) =>
    `v1,${createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
      .update(content)
      .digest('base64')}`;
  return {
    'webhook-id': delivery.id,
    'webhook-timestamp': String(delivery.timestamp),
    'webhook-signature': [secrets.current, ...(secrets.previous ? [secrets.previous] : [])].map(sign).join(' '),
  };
}
