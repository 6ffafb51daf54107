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

/**
 * `POST /webhooks/:source`. Who may call: anyone holding the source's signing secret; the signature
 * is the only authentication. Nothing is stored unless every check passes.
 */
export function webhookRoutes(ctx: PipelineContext) {
  const rawStore = new RawStore(ctx);
  return new Hono().post('/webhooks/:source', async (c) => {
    const name = c.req.param('source');
    const source = ctx.workspace().sources.get(name);
    const connector = source && connectorTypes.get(source.type);
    if (!source || !connector) throw new ApiError('unknown_source', `there is no source named "${name}"`);

    const bytes = await readLimited(c.req.raw, ctx.settings.maxBodyBytes);
    let body: string;
    try {
      body = strictUtf8.decode(bytes);
    } catch {
      throw new ApiError('malformed_body', 'the body is not valid UTF-8');
    }
    const verdict = await connector.verifyWebhook(source.config as never, {
      method: c.req.method,
      url: new URL(c.req.url),
      headers: c.req.raw.headers,
      body,
    });
    if (!verdict.ok) throw new ApiError(verdict.code, verdict.message);

    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new ApiError('malformed_json', 'the body is not valid JSON');
    }
    const records = Array.isArray(parsed) ? parsed : [parsed];
    const notRecord = records.findIndex((r) => r === null || typeof r !== 'object' || Array.isArray(r));
    if (notRecord >= 0) {
      throw new ApiError('malformed_json', `the body must be a JSON object or an array of objects (item ${notRecord} is not)`);
    }
    const { intakeId } = await rawStore.store({ source: name, records, bodyHash: sha256(bytes) });
    return c.json({ accepted: records.length, intakeId }, 202);
  });
}
