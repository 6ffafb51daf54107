import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookConnector } from '../src/connectors/webhook/index.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ workers: false, env: { AURUM_MAX_BODY: '2048' } });
});
afterAll(() => t.stop());

const record = JSON.stringify({ id: 'c-1', email: 'someone@example.com', first_name: 'Some', last_name: 'One' });

async function expectRejected(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
}

async function nothingStored() {
  expect(await t.count('raw_records')).toBe(0);
  expect(await t.count('intake_outbox')).toBe(0);
  expect(await t.count("pgboss.job where name = 'aurum-ingest'")).toBe(0);
}

describe('POST /webhooks/:source rejects bad input and stores nothing', () => {
  it('answers 404 for an unknown source', async () => {
    await expectRejected(await t.postWebhook('nope', record, 'whatever-secret'), 404, 'unknown_source');
    await nothingStored();
  });

  it('answers 401 when the signature header is missing', async () => {
    const response = await t.hub.app.request('/webhooks/crm', {
      method: 'POST',
      body: record,
      headers: { 'content-type': 'application/json' },
    });
    await expectRejected(response, 401, 'signature_missing');
    await nothingStored();
  });

  it('answers 401 when the signature was made with another secret', async () => {
    await expectRejected(await t.postWebhook('crm', record, 'not-the-crm-secret-at-all'), 401, 'signature_invalid');
    await nothingStored();
  });

  it('answers 401 when the body was changed after signing', async () => {
    const { sign } = await import('@octokit/webhooks-methods');
    const signature = await sign('crm-secret-0123456789abcdef', record);
    const response = await t.hub.app.request('/webhooks/crm', {
      method: 'POST',
      body: `${record} `,
      headers: { 'x-hub-signature-256': signature },
    });
    await expectRejected(response, 401, 'signature_invalid');
    await nothingStored();
  });

  it('answers 400 for malformed JSON, even when correctly signed', async () => {
    await expectRejected(await t.postWebhook('crm', '{"id": 1,', undefined), 400, 'malformed_json');
    await expectRejected(await t.postWebhook('crm', '[1, 2]', undefined), 400, 'malformed_json');
    await nothingStored();
  });

  it('answers 413 for a body over AURUM_MAX_BODY', async () => {
    const big = JSON.stringify({ id: 'big', note: 'x'.repeat(3000) });
    await expectRejected(await t.postWebhook('crm', big), 413, 'body_too_large');
    await nothingStored();
  });

  it('answers 413 for an oversized chunked body without Content-Length', async () => {
    const big = JSON.stringify({ id: 'big', note: 'x'.repeat(3000) });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await t.hub.app.request('/webhooks/crm', {
      method: 'POST',
      body: stream,
      headers: { 'x-hub-signature-256': 'sha256=00' },
      duplex: 'half',
    } as RequestInit);
    await expectRejected(response, 413, 'body_too_large');
    await nothingStored();
  });
});

describe('POST /webhooks/:source accepts signed records', () => {
  it('stores one record and its ingest job, answering 202 {accepted: 1}', async () => {
    const response = await t.postWebhook('crm', record);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1 });
    expect(await t.count('raw_records')).toBe(1);
    // Queued with the record, in the intake outbox or already handed from it to the ingest queue.
    expect((await t.count('intake_outbox')) + (await t.count("pgboss.job where name = 'aurum-ingest'"))).toBe(1);
    await waitFor(async () => (await t.count('intake_outbox')) === 0);
    expect(await t.count("pgboss.job where name = 'aurum-ingest'")).toBe(1);
  });

  it('stores every record of an array body, with the body hash and each record hash', async () => {
    const body = JSON.stringify([{ id: 'a-1' }, { id: 'a-2' }, { id: 'a-3' }]);
    const response = await t.postWebhook('crm', body);
    expect(await response.json()).toMatchObject({ accepted: 3 });
    const { createHash } = await import('node:crypto');
    const bodyHash = createHash('sha256').update(body).digest('hex');
    expect(await t.count(`raw_records where body_hash = '${bodyHash}'`)).toBe(3);
  });

  it('answers 202 {accepted: 0} to a signed empty array, storing and queueing nothing', async () => {
    await waitFor(async () => (await t.count('intake_outbox')) === 0);
    const before = { raw: await t.count('raw_records'), jobs: await t.count("pgboss.job where name = 'aurum-ingest'") };
    const response = await t.postWebhook('crm', '[]');
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 0, intakeId: expect.any(String) });
    expect(await t.count('raw_records')).toBe(before.raw);
    expect(await t.count('intake_outbox')).toBe(0);
    expect(await t.count("pgboss.job where name = 'aurum-ingest'")).toBe(before.jobs);
  });
});

describe('webhook connector', () => {
  it('fails closed when no secret is configured', async () => {
    const verdict = await webhookConnector.verifyWebhook(
      { secret: '' },
      {
        method: 'POST',
        url: new URL('http://x/webhooks/a'),
        headers: new Headers({ 'x-hub-signature-256': 'sha256=abc' }),
        body: '{}',
        receivedAt: new Date(),
      },
    );
    expect(verdict).toMatchObject({ ok: false, code: 'secret_missing' });
  });
});
