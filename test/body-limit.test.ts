/**
 * Every authenticated JSON route takes at most AURUM_MAX_BODY; the file import streams without one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHub, type TestHub } from './helpers/hub.ts';

const LIMIT = 2048;
let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ env: { AURUM_MAX_BODY: String(LIMIT) }, workers: false });
});
afterAll(async () => {
  await t?.stop();
});

/** A body that never ends unless its reader stops: 1 KiB chunks, without a Content-Length. */
function endless(): { stream: ReadableStream<Uint8Array>; sent: () => number } {
  let sent = 0;
  const chunk = new TextEncoder().encode(`"${'x'.repeat(1022)}",`);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"url":"https://example.com/hook","purposes":['));
    },
    pull(controller) {
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, sent: () => sent };
}

describe('the body limit of authenticated JSON routes', () => {
  it('refuses a declared body over AURUM_MAX_BODY with 413 body_too_large', async () => {
    const body = JSON.stringify({ url: 'https://example.com/hook', purposes: ['x'.repeat(LIMIT)] });
    const response = await t.call('POST', '/destinations', body);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: { code: 'body_too_large', message: `the body is larger than AURUM_MAX_BODY (${LIMIT} bytes)` },
    });
  });

  it('stops reading a body without a length as soon as it passes the limit', async () => {
    const { stream, sent } = endless();
    const response = await t.hub.app.request('/destinations', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
    // The stream only ends when its reader stops: the hub read a few chunks past the limit at most.
    expect(sent()).toBeLessThan(LIMIT * 4);
  });

  it('still takes a body under the limit', async () => {
    const response = await t.call('POST', '/destinations', { url: 'https://example.com/hook' });
    expect(response.status).toBe(201);
  });

  it('lets a file import stream far past AURUM_MAX_BODY', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `big-${i}`, email: `big-${i}@example.com` }));
    const body = `${lines.join('\n')}\n`;
    expect(body.length).toBeGreaterThan(LIMIT * 4);
    const response = await t.call('POST', '/sources/crm/import', body, { 'content-type': 'application/x-ndjson' });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { accepted: number }).accepted).toBe(200);
  });
});
