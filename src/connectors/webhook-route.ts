import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { ApiError } from '../http/errors.ts';
import { describeRoute } from '../http/openapi.ts';
import { type Checked, checkRecord, parseJsonWithin, type RecordLimits } from '../intake/record-limits.ts';
import { RawStore, sha256 } from '../intake/store.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { connectorTypes } from './registry.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads the body, refusing it as soon as it grows past `limit` (Content-Length can lie or be absent). */
async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () => new ApiError('body_too_large', `the body is larger than AURUM_MAX_BODY (${limit} bytes)`);
  if (declared > limit) throw tooLarge();
  // A declared length is what Node's parser delivers, no more: read it whole in one go, on the
  // server's fast path. Touching `request.body` first would build a web stream for nothing.
  if (Number.isInteger(declared)) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge();
    return bytes;
  }
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The records of a verified body: a JSON object or an array of them, each within the record limits.
 * Checked before the body joins a group commit, so a bad body is refused alone.
 */
function recordsOf(body: string, bytes: number, parsed: unknown[] | undefined, limits: RecordLimits): unknown[] {
  let records: unknown[];
  if (parsed) {
    for (const record of parsed) refuse(checkRecord(record, limits, undefined, { storable: false }));
    records = parsed;
  } else {
    const checked = parseJsonWithin(body, limits, { storable: false });
    refuse(checked);
    const value = checked.ok ? checked.value : undefined;
    records = Array.isArray(value) ? value : [value];
    // Storability is settled per record when stored (insertRawRecords). A body within the record limit holds no record beyond it.
    if (bytes > limits.maxRecordBytes) for (const record of records) refuse(checkRecord(record, limits, undefined, { storable: false }));
  }
  const notRecord = records.findIndex((r) => r === null || typeof r !== 'object' || Array.isArray(r));
  if (notRecord >= 0) {
    throw new ApiError('malformed_json', `the body must be a JSON object or an array of objects (item ${notRecord} is not)`);
  }
  return records;
}

function refuse(checked: Checked<unknown>): void {
  if (!checked.ok) throw new ApiError(checked.code, checked.message);
}

const SIGNATURE_ERRORS = [
  'unknown_source',
  'signature_missing',
  'signature_invalid',
  'secret_missing',
  'timestamp_out_of_tolerance',
] as const;
describeRoute('POST /webhooks/:source', {
  tag: 'Webhooks',
  audience: 'signed',
  summary: "Receives a source's webhook; the signature (or Mailchimp's URL token) is the authentication",
  body: { schema: {}, contentType: '*/*', description: "the vendor's payload, hashed as received" },
  responses: {
    202: {
      description: 'stored, to be mapped',
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['accepted', 'intakeId'],
        properties: { accepted: { type: 'integer' }, intakeId: { type: 'string' } },
      },
    },
  },
  errors: [
    ...SIGNATURE_ERRORS,
    'webhook_replayed',
    'body_too_large',
    'request_timeout',
    'malformed_body',
    'malformed_json',
    'record_too_large',
    'json_too_deep',
  ],
});
describeRoute('GET /webhooks/:source', {
  tag: 'Webhooks',
  audience: 'signed',
  summary: "Answers a vendor's check of the webhook URL (Mailchimp's), with the same token",
  responses: {
    200: { description: 'the URL is right', schema: { type: 'object', required: ['ok'], properties: { ok: { const: true } } } },
  },
  errors: [...SIGNATURE_ERRORS, 'not_found'],
});

/**
 * `POST /webhooks/:source`. Who may call: anyone holding the source's signing secret (or, for
 * Mailchimp, its URL token); the signature is the only authentication. Nothing is stored unless every
 * check passes, and a delivery whose signed timestamp was seen before is refused as a replay.
 *
 * `GET /webhooks/:source`: answers a vendor's check of the URL (Mailchimp's), with the same token.
 */
export function webhookRoutes(ctx: PipelineContext) {
  const rawStore = new RawStore(ctx);
  const sourceOf = (name: string) => {
    const source = ctx.workspace().sources.get(name);
    const connector = source && connectorTypes.get(source.type);
    if (!source || !connector) throw new ApiError('unknown_source', `there is no source named "${name}"`);
    return { source, connector };
  };
  return new Hono()
    .get('/webhooks/:source', (c) => {
      const { source, connector } = sourceOf(c.req.param('source'));
      if (!connector.answerGet) throw new ApiError('not_found', `a ${source.type} source takes no GET requests`);
      const request = { method: 'GET', url: new URL(c.req.url), headers: c.req.raw.headers, body: '', receivedAt: new Date() };
      const verdict = connector.answerGet(source.config as never, request);
      if (!verdict.ok) throw new ApiError(verdict.code, verdict.message);
      return c.json({ ok: true });
    })
    .post('/webhooks/:source', async (c) => {
      const name = c.req.param('source');
      const { source, connector } = sourceOf(name);
      const receivedAt = new Date();
      const bytes = await readLimited(c.req.raw, ctx.settings.maxBodyBytes);
      let body: string;
      try {
        body = strictUtf8.decode(bytes);
      } catch {
        throw new ApiError('malformed_body', 'the body is not valid UTF-8');
      }
      const request = { method: c.req.method, url: new URL(c.req.url), headers: c.req.raw.headers, body, receivedAt };
      const verdict = await connector.verifyWebhook(source.config as never, request);
      if (!verdict.ok) throw new ApiError(verdict.code, verdict.message);

      const limits = { maxRecordBytes: ctx.settings.maxRecordBytes, maxJsonDepth: ctx.settings.maxJsonDepth };
      const records = recordsOf(body, bytes.byteLength, connector.parseWebhook?.(request), limits);
      // A batch of no records (`[]`, or vendor events none of which is a record) holds nothing to store.
      if (records.length === 0) return c.json({ accepted: 0, intakeId: randomUUID() }, 202);
      const { intakeId } = await rawStore.store({
        source: name,
        records,
        bodyHash: sha256(bytes),
        body: bytes,
        ...(verdict.replayKey ? { receipt: verdict.replayKey } : {}),
        ...(connector.hydrate ? { hydrate: true } : {}),
      });
      return c.json({ accepted: records.length, intakeId }, 202);
    });
}
