import type { ApiClient, ApiClientOptions } from './http/client.ts';

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
   * A folder of mapping files for the type's objects (its people, and the companies they belong to),
   * without `source:`. A source of the type with no mapping of its own in the workspace uses these.
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
  /**
   * Pulls the source's people and companies from its API, page by page, starting at
   * `context.cursor` (null: from the beginning). Each page names the cursor to resume from once its
   * records are stored: the hub saves both in one transaction.
   */
  pull?(config: Config, context: PullContext): AsyncIterable<PulledPage>;
  /**
   * For vendors whose webhooks carry ids only (HubSpot): the full objects the stored webhook
   * records name, fetched from the API. The webhook records are kept as evidence and not mapped;
   * the objects returned are stored and mapped in their place.
   */
  hydrate?(config: Config, records: unknown[], context: Omit<PullContext, 'cursor'>): Promise<unknown[]>;
}

/** Where a pull resumes: whatever the connector needs, as JSON (a high-water mark, a page cursor). */
export type SyncCursor = Record<string, unknown>;

export interface PullContext {
  /** Saved with the last page stored; null for a full sync, or the first. */
  cursor: SyncCursor | null;
  /** An HTTP client for the vendor's API: the source's `rateLimit`, retries, keep-alive. */
  client(options: Pick<ApiClientOptions, 'baseUrl' | 'headers'>): ApiClient;
  /** When the run started: a full pull's records are as of then. */
  startedAt: Date;
}

export interface PulledPage {
  records: unknown[];
  cursor: SyncCursor;
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
