/**
 * The one narrow interface a connector type implements. A type lives in its own folder under
 * `src/connectors/<type>/` with its config schema and tests; adding one never touches the pipeline.
 *
 * @example
 * ```ts
 * export const acme: ConnectorType<{ secret: string }> = {
 *   type: 'acme',
 *   configSchema: { type: 'object', properties: { secret: { type: 'string' } }, required: ['secret'] },
 *   async verifyWebhook(config, request) {
 *     const given = request.headers.get('x-acme-signature');
 *     if (!given) return { ok: false, code: 'signature_missing', message: 'X-Acme-Signature is missing' };
 *     return constantTimeEqual(given, hmacHex(config.secret, request.body))
 *       ? { ok: true }
 *       : { ok: false, code: 'signature_invalid', message: 'X-Acme-Signature does not match' };
 *   },
 * };
 * ```
 */
export interface ConnectorType<Config = unknown> {
  type: string;
  /** JSON Schema for the type's own keys in `connectors/<source>.yaml` (`type` and `priority` are common). */
  configSchema: Record<string, unknown>;
  /** Checks a webhook's authenticity over the raw bytes, in constant time, failing closed. */
  verifyWebhook(config: Config, request: WebhookRequest): Promise<VerifyResult>;
}

export interface WebhookRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The body exactly as received, decoded as UTF-8 without touching a byte (BOM kept). */
  body: string;
}

export type VerifyResult =
  | { ok: true }
  | { ok: false; code: 'signature_missing' | 'signature_invalid' | 'secret_missing'; message: string };
