import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, rateLimitWaitMs, retryAfterMs, VendorHttpError } from './client.ts';

const API = 'https://vendor.test';
let failures: { status: number; retryAfter?: string }[] = [];
const server = setupServer(
  http.get(`${API}/items`, () => {
    const failure = failures.shift();
    if (failure) {
      return HttpResponse.json(
        { error: 'no' },
        { status: failure.status, headers: failure.retryAfter ? { 'retry-after': failure.retryAfter } : {} },
      );
    }
    return HttpResponse.json({ ok: true });
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

/**
 * A client on a virtual clock: its waits are recorded and move the clock instead of being slept, and
 * a request takes no time, so the test sees exactly what the client asks for, however slow the machine.
 */
function client(options: { rateLimit?: number; attempts?: number } = {}) {
  const waits: number[] = [];
  let clock = 0;
  const api = new ApiClient({
    baseUrl: API,
    headers: {},
    ...options,
    now: () => clock,
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
  });
  return { api, waits };
}

describe('the vendor HTTP client', () => {
  it('spaces requests to respect the source’s rateLimit', async () => {
    const { api, waits } = client({ rateLimit: 4 });
    for (let i = 0; i < 4; i++) await api.request({ path: '/items' });
    // The first goes at once; each of the others waits for its slot, 250 ms after the one before.
    expect(waits).toEqual([250, 250, 250]);
  });

  it('waits as Retry-After asks on a 429, backs off on 5xx, and gives up after its attempts', async () => {
    failures = [{ status: 429, retryAfter: '7' }, { status: 502 }];
    const { api, waits } = client();
    expect((await api.request<{ ok: boolean }>({ path: '/items' })).body.ok).toBe(true);
    expect(waits[0]).toBe(7000);
    expect(waits[1]).toBeGreaterThan(0);
    expect(api.requests).toBe(3);

    failures = [{ status: 503 }, { status: 503 }, { status: 503 }];
    const limited = client({ attempts: 3 });
    await expect(limited.api.request({ path: '/items' })).rejects.toMatchObject({ kind: 'exhausted', status: 503 });
  });

  it('fails at once on 401 and 403, and on other 4xx, without retrying', async () => {
    for (const status of [401, 403, 404]) {
      failures = [{ status }];
      const { api, waits } = client();
      const error = await api.request({ path: '/items' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VendorHttpError);
      expect((error as VendorHttpError).kind).toBe(status === 404 ? 'client' : 'auth');
      expect(waits).toEqual([]);
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(Date.now() + 2000).toUTCString(), Date.now())).toBeGreaterThan(900);
    expect(retryAfterMs(null)).toBeUndefined();
  });

  it('falls back to X-RateLimit-Reset, as an epoch second (Intercom) or seconds left', () => {
    const now = 1_700_000_000_000;
    expect(rateLimitWaitMs(new Headers({ 'retry-after': '2', 'x-ratelimit-reset': '9' }), now)).toBe(2000);
    expect(rateLimitWaitMs(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 4) }), now)).toBe(4000);
    expect(rateLimitWaitMs(new Headers({ 'x-ratelimit-reset': '7' }), now)).toBe(7000);
    expect(rateLimitWaitMs(new Headers({ 'x-ratelimit-reset': 'soon' }), now)).toBeUndefined();
    expect(rateLimitWaitMs(new Headers(), now)).toBeUndefined();
  });
});
