import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let flakyCalls = 0;
beforeAll(async () => {
  t = await startTestHub();
  receiver = await startReceiver((path, attempt) => {
    if (path === '/flaky') {
      flakyCalls++;
      return attempt < 3 ? 500 : 200;
    }
    if (path === '/slow') return attempt === 1 ? { status: 204, delayMs: 4000 } : 204;
    return path === '/down' ? 503 : 204;
  });
});
afterAll(async () => {
  await t.stop();
  await receiver.close();
});

async function destination(path: string, purposes?: string[]) {
  const response = await t.call('POST', '/destinations', { url: receiver.url(path), ...(purposes ? { purposes } : {}) });
  expect(response.status).toBe(201);
  const created = (await response.json()) as { id: string; secret: string; purposes: string[] };
  expect(created.secret).toMatch(/^[0-9a-f]{64}$/);
  receiver.trust(path, created.secret);
  return created;
}
const at = (path: string) => receiver.received.filter((r) => r.path === path);
const crm = async (r: Record<string, unknown>) => {
  expect((await t.postWebhook('crm', JSON.stringify(r))).status).toBe(202);
  await t.settle();
};

describe('destinations', () => {
  it('receive each golden change, signed over the exact bytes sent', async () => {
    await destination('/all');
    await crm({ id: 'd1', email: 'lin@example.com', first_name: 'Lin' });
    await waitFor(async () => at('/all').length === 1);
    const [delivery] = at('/all');
    expect(delivery?.signatureValid).toBe(true);
    expect(delivery?.headers['x-aurum-event']).toBe('profile.updated');
    expect(delivery?.headers['x-aurum-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(delivery?.json).toMatchObject({ event: 'profile.updated', profile: { emails: ['lin@example.com'], name: { given: 'Lin' } } });
  });

  it('receive profile.merged with the retired ids after a merge', async () => {
    await crm({ id: 'd2', email: 'lin.work@example.com', first_name: 'Lin' });
    const [second] = (await t.json('GET', '/profiles?email=lin.work%40example.com')).profiles;
    const [first] = (await t.json('GET', '/profiles?email=lin%40example.com')).profiles;
    await t.postWebhook('shop', JSON.stringify({ customer_id: 'd-s1', email_address: 'lin@example.com', crm_id: 'd2' }));
    await t.settle();
    await waitFor(async () => at('/all').some((r) => r.json.event === 'profile.merged'));
    const merged = at('/all').find((r) => r.json.event === 'profile.merged');
    expect(merged?.signatureValid).toBe(true);
    expect(merged?.json.profile.id).toBe(first.id);
    expect(merged?.json.merged).toEqual([second.id]);
  });

  it('with purposes receive a profile only while every purpose is granted, then one suppression without personal data', async () => {
    await destination('/marketing', ['marketing']);
    await crm({ id: 'd3', email: 'kim@example.com', marketing_opt_in: false, updated_at: '2026-01-01T00:00:00Z' });
    await crm({ id: 'd4', email: 'sam@example.com', marketing_opt_in: true, updated_at: '2026-01-01T00:00:00Z' });
    await waitFor(async () => at('/marketing').length === 1);
    expect(at('/marketing')[0]?.json.profile.emails).toEqual(['sam@example.com']);

    await crm({ id: 'd4', email: 'sam@example.com', marketing_opt_in: false, updated_at: '2026-02-01T00:00:00Z' });
    await waitFor(async () => at('/marketing').length === 2);
    const suppressed = at('/marketing')[1];
    expect(suppressed?.signatureValid).toBe(true);
    expect(suppressed?.json).toEqual({ event: 'profile.suppressed', id: at('/marketing')[0]?.json.profile.id });

    // Another change while withdrawn: nothing more is sent.
    await crm({ id: 'd4', email: 'sam@example.com', first_name: 'Sam', marketing_opt_in: false, updated_at: '2026-03-01T00:00:00Z' });
    await t.settle();
    expect(at('/marketing')).toHaveLength(2);
    expect(at('/all').some((r) => r.json.profile?.name?.given === 'Sam')).toBe(true);
  });

  it('retry a non-2xx answer with backoff and list every attempt', async () => {
    const flaky = await destination('/flaky');
    await crm({ id: 'd5', email: 'ray@example.com' });
    await waitFor(async () => at('/flaky').length === 1, 30_000);
    expect(flakyCalls).toBe(3);
    const { deliveries } = await t.json('GET', `/destinations/${flaky.id}/deliveries`);
    const delivery = deliveries.find((d: { status: string }) => d.status === 'delivered');
    expect(delivery.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    expect(at('/flaky')[0]?.signatureValid).toBe(true);
  });

  it('retry an attempt that times out', async () => {
    const slow = await destination('/slow');
    await crm({ id: 'd7', email: 'tim@example.com' });
    await waitFor(async () => at('/slow').length === 1, 30_000);
    const { deliveries } = await t.json('GET', `/destinations/${slow.id}/deliveries?status=delivered`);
    const attempts = deliveries[0].attempts;
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ statusCode: null, error: 'timed out after 2000 ms' });
    expect(attempts[1]).toMatchObject({ statusCode: 204, error: null });
  });

  it('mark a delivery failed once its retries are spent, with every attempt listed', async () => {
    const down = await destination('/down');
    await crm({ id: 'd6', email: 'eve@example.com' });
    await waitFor(async () => {
      const { deliveries } = await t.json('GET', `/destinations/${down.id}/deliveries?status=failed`);
      return deliveries.length > 0;
    }, 40_000);
    const { deliveries } = await t.json('GET', `/destinations/${down.id}/deliveries?status=failed`);
    expect(deliveries[0].attempts).toHaveLength(4);
    expect(deliveries[0].lastStatusCode).toBe(503);
  });

  it('reject a destination without a valid URL', async () => {
    const response = await t.call('POST', '/destinations', { url: 'ftp://example.com' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('invalid_request');
    expect((await t.call('GET', '/destinations/00000000-0000-4000-8000-000000000000/deliveries')).status).toBe(404);
  });
});
