import { Hono } from 'hono';
import { ApiError } from '../api/errors.ts';
import { connectorTypes } from '../connectors/registry.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { RawStore, sha256 } from './store.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads the body, refusing it as soon as it grows past `limit` (Content-Length can lie or be absent). */
async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () => new ApiError('body_too_large', `the body is larger than AURUM_MAX_BODY (${limit} bytes)`);
  if (declared > limit) throw tooLarge();
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

/** A JSON object, or an array of them: the records of a body. */
function jsonRecords(body: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ApiError('malformed_json', 'the body is not valid JSON');
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

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

      const records = connector.parseWebhook ? connector.parseWebhook(request) : jsonRecords(body);
      const notRecord = records.findIndex((r) => r === null || typeof r !== 'object' || Array.isArray(r));
      if (notRecord >= 0) {
        throw new ApiError('malformed_json', `the body must be a JSON object or an array of objects (item ${notRecord} is not)`);
      }
      const { intakeId } = await rawStore.store({
        source: name,
        records,
        bodyHash: sha256(bytes),
        ...(verdict.replayKey ? { receipt: verdict.replayKey } : {}),
        ...(connector.hydrate ? { hydrate: true } : {}),
      });
      return c.json({ accepted: records.length, intakeId }, 202);
    });
}
