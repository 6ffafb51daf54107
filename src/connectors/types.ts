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
  /**
   * A folder of mapping files for the type's people-bearing objects, without `source:`. A source of
   * the type with no mapping of its own in the workspace uses these.
   */
  defaultMappings?: string;
  /** JSON Schema for the type's own keys in `connectors/<source>.yaml` (`type` and `priority` are common). */
  configSchema: Record<string, unknown>;
  /**
   * Checks a webhook's authenticity over the raw bytes, in constant time, failing closed. Where the
   * scheme carries a timestamp, it is checked against the vendor's tolerance and the result names a
   * `replayKey`: the hub refuses a second delivery with the same key.
   */
  verifyWebhook(config: Config, request: WebhookRequest): Promise<VerifyResult>;
  /** The records a verified webhook body carries (default: a JSON object, or an array of them). */
  parseWebhook?(request: WebhookRequest): unknown[];
  /** Answers a vendor's GET to the webhook URL (Mailchimp validates a URL that way); default 404. */
  answerGet?(config: Config, request: WebhookRequest): VerifyResult;
}

export interface WebhookRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The body exactly as received, decoded as UTF-8 without touching a byte (BOM kept). */
  body: string;
  /** When the hub received it: timestamps are checked against this. */
  receivedAt: Date;
}

export type VerifyFailure = 'signature_missing' | 'signature_invalid' | 'secret_missing' | 'timestamp_out_of_tolerance';

export type VerifyResult = { ok: true; replayKey?: string } | { ok: false; code: VerifyFailure; message: string };
