/** Why a vendor request failed for good: `auth` is never retried, `exhausted` ran out of retries. */
export type VendorFailure = 'auth' | 'client' | 'exhausted';

export class VendorHttpError extends Error {
  readonly kind: VendorFailure;
  readonly status: number | undefined;
  constructor(kind: VendorFailure, message: string, status?: number) {
    super(message);
    this.name = 'VendorHttpError';
    this.kind = kind;
    this.status = status;
  }
}

export interface ApiClientOptions {
  /** The vendor's API root (or `baseUrl` from the source's YAML: EU data centres, sandboxes, tests). */
  baseUrl: string;
  /** Sent with every request: the credentials, the API version. */
  headers: Record<string, string>;
  /** Requests per second at most (the source's `rateLimit`). */
  rateLimit?: number;
  /** Attempts per request on 429 and 5xx, the first included. */
  attempts?: number;
  /** The longest wait between attempts, whatever Retry-After asks. */
  maxDelayMs?: number;
  timeoutMs?: number;
  /** How to wait, and the clock it waits on; tests make both virtual. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface VendorRequest {
  method?: 'GET' | 'POST';
  /** A path under the base URL, or a full URL (a vendor's `next` link). */
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
}

export interface VendorResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/*
 * Requests go through Node's global `fetch`, which is undici with a keep-alive connection pool
 * shared by every source: a sync makes thousands of requests to one host. No dispatcher of our
 * own: one from the undici package is not the version bundled in Node's fetch, and a custom
 * dispatcher would also bypass msw, so tests would not run the code production runs.
 */

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry-After is seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * How long a 429 asks to wait: `Retry-After`, or else `X-RateLimit-Reset`, which Intercom sends as
 * the epoch second the window reopens and others as the seconds left in it.
 */
export function rateLimitWaitMs(headers: Headers, now = Date.now()): number | undefined {
  const asked = retryAfterMs(headers.get('retry-after'), now);
  if (asked !== undefined) return asked;
  const reset = Number(headers.get('x-ratelimit-reset') ?? Number.NaN);
  if (!Number.isFinite(reset) || reset < 0) return undefined;
  return reset > 1e9 ? Math.max(0, reset * 1000 - now) : reset * 1000;
}

/** One vendor API: rate-limited, retried with backoff on 429 and 5xx, failing at once on auth errors. */
export class ApiClient {
  readonly #options: Required<Omit<ApiClientOptions, 'rateLimit'>> & { rateLimit: number | undefined };
  #nextSlot = 0;
  /** Requests made, retries included: sync runs report it. */
  requests = 0;

  constructor(options: ApiClientOptions) {
    this.#options = {
      attempts: 6,
      maxDelayMs: 60_000,
      timeoutMs: 30_000,
      sleep: realSleep,
      now: Date.now,
      ...options,
      rateLimit: options.rateLimit,
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
    };
  }

  /** Waits for the next slot under the rate limit. */
  async #throttle(): Promise<void> {
    const rate = this.#options.rateLimit;
    if (!rate) return;
    const now = this.#options.now();
    const slot = Math.max(now, this.#nextSlot);
    this.#nextSlot = slot + 1000 / rate;
    if (slot > now) await this.#options.sleep(slot - now);
  }

  async request<T>(request: VendorRequest): Promise<VendorResponse<T>> {
    const url = new URL(/^https?:\/\//.test(request.path) ? request.path : `${this.#options.baseUrl}${request.path}`);
    for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = request.json === undefined ? undefined : JSON.stringify(request.json);
    const headers = { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...this.#options.headers };

    for (let attempt = 1; ; attempt++) {
      await this.#throttle();
      this.requests++;
      let response: Response | undefined;
      let failure = '';
      try {
        response = await fetch(url, {
          method: request.method ?? 'GET',
          headers,
          ...(body ? { body } : {}),
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        });
      } catch (error) {
        failure = `${request.method ?? 'GET'} ${url.pathname}: ${(error as Error).message}`;
      }
      if (response) {
        if (response.ok) return { status: response.status, headers: response.headers, body: (await response.json()) as T };
        const text = await response.text().catch(() => '');
        failure = `${request.method ?? 'GET'} ${url.pathname} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
        if (response.status === 401 || response.status === 403) throw new VendorHttpError('auth', failure, response.status);
        if (response.status !== 429 && response.status < 500) throw new VendorHttpError('client', failure, response.status);
      }
      if (attempt >= this.#options.attempts) {
        throw new VendorHttpError('exhausted', `${failure} (gave up after ${attempt} attempts)`, response?.status);
      }
      const backoff = Math.min(500 * 2 ** (attempt - 1), this.#options.maxDelayMs) * (0.5 + Math.random() / 2);
      const asked = response?.status === 429 ? rateLimitWaitMs(response.headers) : undefined;
      await this.#options.sleep(Math.min(asked ?? backoff, this.#options.maxDelayMs));
    }
  }
}
