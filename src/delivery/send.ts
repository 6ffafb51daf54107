import { sql } from 'drizzle-orm';
import type { Job } from 'pg-boss';
import { Agent, request } from 'undici';
import { qualifies } from '../consent/status.ts';
import { rowsOf, type Tx } from '../db/database.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { QUEUES, txAdapter } from '../queue/queues.ts';
import { isPrivateAddress, publicOnlyLookup } from './private-addresses.ts';
import { type SignatureScheme, signatureHeaders } from './signing.ts';

export interface DeliverJob {
  deliveryId: string;
  /** Its destination, which is also the job's group (see `deliverJob`). */
  destinationId?: string;
}

/**
 * Keep-alive connections to destinations, shared by every send of this process. Unless private
 * destinations are allowed, connections refuse private addresses at connect time, whatever the
 * name resolved to when the destination was saved.
 */
const agents = {
  public: new Agent({ keepAliveTimeout: 30_000, connections: 64, connect: { lookup: publicOnlyLookup } }),
  any: new Agent({ keepAliveTimeout: 30_000, connections: 64 }),
};

/** The next free rate-limit slot per destination, in this process. */
const nextSlot = new Map<string, number>();

interface Claimed {
  id: string;
  event: string;
  body: string;
  attempts: number;
  created_at: Date | string;
  destination_id: string;
  url: string;
  secret: string;
  signature: SignatureScheme;
  previous_secret: string | null;
  previous_secret_until: Date | string | null;
  rate_limit: number | null;
  timeout_ms: number | null;
}

type Claim = { kind: 'send'; delivery: Claimed } | { kind: 'defer'; seconds: number } | { kind: 'done' };

/**
 * Sends one delivery: the stored bytes, signed. Before sending it checks, in order, that the
 * delivery is still live (not superseded, withdrawn or sent), that no older delivery of the same
 * profile to the same destination is in flight (order), that the destination's circuit is closed,
 * and that the profile still qualifies (consent at send time). Failures are retried with
 * exponential backoff and jitter across the retry window, then kept as dead letters.
 */
export async function deliver(ctx: PipelineContext, job: Job<DeliverJob>): Promise<void> {
  const claim = await claimDelivery(ctx, job.data.deliveryId);
  if (claim.kind === 'done') return;
  if (claim.kind === 'defer') return defer(ctx, job.data, claim.seconds);
  await throttle(claim.delivery.destination_id, claim.delivery.rate_limit);
  const outcome = await send(ctx, claim.delivery);
  await record(ctx, claim.delivery, outcome);
}

/**
 * A delivery job, in its destination's pg-boss group: a worker takes at most
 * AURUM_DELIVERY_CONCURRENCY jobs of one destination at a time (`localGroupConcurrency`), so a slow
 * destination's jobs wait in the queue, not in the workers the others need.
 */
export function deliverJob(deliveryId: string, destinationId: string, notBefore?: Date | null) {
  return {
    data: { deliveryId, destinationId } satisfies DeliverJob,
    group: { id: destinationId },
    // A destination whose circuit is open gets its new jobs after the cooldown, spread over ten seconds.
    ...(notBefore && notBefore.getTime() > Date.now() ? { startAfter: new Date(notBefore.getTime() + Math.random() * 10_000) } : {}),
  };
}

/**
 * Moves a destination's whole queued backlog past `seconds` (spread over ten more), in one
 * statement: while its circuit is open, its jobs are not fetched one by one only to be put back,
 * which would cost the other destinations as much database time as their own sends.
 */
async function holdBack(tx: Tx, destinationId: string, seconds: number) {
  await tx.execute(sql`
    update pgboss.job set start_after = now() + make_interval(secs => ${seconds} + random() * 10)
    where name = ${QUEUES.deliver} and group_id = ${destinationId} and state in ('created', 'retry')
      and start_after < now() + make_interval(secs => ${seconds})`);
}

async function defer(ctx: PipelineContext, data: DeliverJob, seconds: number) {
  await ctx.boss.send(QUEUES.deliver, data, {
    startAfter: Math.max(1, Math.ceil(seconds)),
    ...(data.destinationId ? { group: { id: data.destinationId } } : {}),
  });
}

/** Requests per second per destination: waits for the next slot (a long wait goes back to the queue). */
async function throttle(destinationId: string, rate: number | null) {
  if (!rate) return;
  const now = Date.now();
  const slot = Math.max(now, nextSlot.get(destinationId) ?? 0);
  nextSlot.set(destinationId, slot + 1000 / rate);
  if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
}

async function claimDelivery(ctx: PipelineContext, deliveryId: string): Promise<Claim> {
  return ctx.database.db.transaction(async (tx): Promise<Claim> => {
    const [row] = rowsOf<
      Claimed & {
        status: string;
        profile_id: string;
        purposes: string[];
        circuit_open_until: Date | string | null;
        consecutive_failures: number;
        probing: boolean;
        ahead: string | number;
      }
    >(
      await tx.execute(sql`
        select d.id, d.event, d.body, d.status, d.attempts, d.created_at, d.profile_id, d.destination_id,
          t.url, t.secret, t.signature, t.previous_secret, t.previous_secret_until, t.rate_limit, t.timeout_ms,
          t.purposes, t.circuit_open_until, t.consecutive_failures,
          exists (select 1 from deliveries s where s.destination_id = d.destination_id and s.status = 'sending'
            and s.updated_at > now() - interval '5 minutes') as probing,
          (select count(*) from deliveries o where o.destination_id = d.destination_id and o.profile_id = d.profile_id
             and o.id <> d.id and (o.created_at, o.id) < (d.created_at, d.id)
             and (o.status in ('pending', 'retrying') or (o.status = 'sending' and o.updated_at > now() - interval '5 minutes'))
          ) as ahead
        from deliveries d join destinations t on t.id = d.destination_id
        where d.id = ${deliveryId} for update of d`),
    );
    // Gone with its destination, sent, superseded by a newer version, withheld or withdrawn.
    if (!row || !['pending', 'retrying'].includes(row.status)) return { kind: 'done' };
    const openUntil = row.circuit_open_until ? new Date(row.circuit_open_until).getTime() : 0;
    if (openUntil > Date.now()) return { kind: 'defer', seconds: (openUntil - Date.now()) / 1000 + Math.random() * 10 };
    // Half-open: the cooldown is over but the last attempts failed. One attempt at a time probes the
    // destination; the rest wait, so a destination coming back is not hit by its whole backlog at once.
    if (row.consecutive_failures >= ctx.settings.delivery.circuitThreshold && row.probing) {
      const seconds = (row.timeout_ms ?? ctx.settings.delivery.timeoutMs) / 1000 + 2;
      await holdBack(tx, row.destination_id, seconds);
      return { kind: 'defer', seconds: seconds + Math.random() * 10 };
    }
    // Order: an older delivery of this profile to this destination goes first.
    if (Number(row.ahead) > 0) return { kind: 'defer', seconds: 1 };
    if (!(await stillQualifies(ctx, tx, row))) {
      await tx.execute(sql`
        update deliveries set status = 'withheld', last_error = 'consent withdrawn before it was sent', updated_at = now()
        where id = ${row.id}`);
      return { kind: 'done' };
    }
    await tx.execute(sql`update deliveries set status = 'sending', updated_at = now() where id = ${row.id}`);
    return { kind: 'send', delivery: row };
  });
}

/**
 * Consent at send time: a delivery queued before a withdrawal must not go. Notices that carry no
 * personal data (`profile.suppressed`, `profile.erased`) always go.
 */
async function stillQualifies(ctx: PipelineContext, tx: Tx, d: { event: string; profile_id: string; purposes: string[] }) {
  if (d.event === 'profile.suppressed' || d.event === 'profile.erased') return true;
  const [profile] = rowsOf<{ consent: Parameters<typeof qualifies>[0] | null; erased_at: Date | string | null }>(
    await tx.execute(sql`select golden->'consent' as consent, erased_at from profiles where id = ${d.profile_id}`),
  );
  if (!profile || profile.erased_at) return false;
  if (d.purposes.length === 0) return true;
  const purposes = ctx.workspace().purposes;
  return qualifies(profile.consent ?? [], d.purposes, (p) => purposes.defaultOf(p));
}

interface Outcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

async function send(ctx: PipelineContext, d: Claimed): Promise<Outcome> {
  const { allowPrivate, timeoutMs: defaultTimeout } = ctx.settings.delivery;
  const timeoutMs = d.timeout_ms ?? defaultTimeout;
  const previousValid = d.previous_secret && d.previous_secret_until && new Date(d.previous_secret_until).getTime() > Date.now();
  const signature = signatureHeaders(
    d.signature,
    { current: d.secret, previous: previousValid ? (d.previous_secret as string) : undefined },
    { id: d.id, body: d.body, timestamp: Math.floor(Date.now() / 1000) },
  );
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const host = new URL(d.url).hostname.replace(/^\[|\]$/g, '');
    if (!allowPrivate && /^[\d.:a-f]+$/i.test(host) && isPrivateAddress(host)) throw new Error(`${host} is a private address`);
    const response = await request(d.url, {
      method: 'POST',
      dispatcher: allowPrivate ? agents.any : agents.public,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Aurum-Webhooks/1',
        'x-aurum-event': d.event,
        'x-aurum-delivery': d.id,
        ...signature,
      },
      body: d.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    statusCode = response.statusCode;
    await response.body.dump({ limit: 64 * 1024 });
    if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    error =
      err.name === 'TimeoutError' || err.name === 'AbortError'
        ? `timed out after ${timeoutMs} ms`
        : err.cause?.code === 'EPRIVATE'
          ? (err.cause.message ?? err.message)
          : err.message;
  }
  return { statusCode, error, durationMs: Math.round(performance.now() - started) };
}

/**
 * Records an attempt. A failure schedules the next one, `retryDelay · 2^(attempt-1)` capped at
 * `retryDelayMax`, times a random factor in [0.5, 1) so a recovering destination is not hit by
 * every retry at once; past the retry window (or the retry limit) the delivery is a dead letter.
 * Failures in a row open the destination's circuit: no attempts for 30 s, doubling to 10 min.
 */
async function record(ctx: PipelineContext, d: Claimed, outcome: Outcome) {
  const settings = ctx.settings.delivery;
  const attempt = d.attempts + 1;
  await ctx.database.db.transaction(async (tx) => {
    await tx.execute(sql`
      insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms)
      values (${d.id}, ${attempt}, ${outcome.statusCode}, ${outcome.error}, ${outcome.durationMs})`);
    if (outcome.error === null) {
      await tx.execute(sql`
        update deliveries set status = 'delivered', attempts = ${attempt}, last_status_code = ${outcome.statusCode},
          last_error = null, next_attempt_at = null, updated_at = now(), delivered_at = now()
        where id = ${d.id} and status = 'sending'`);
      await tx.execute(sql`
        update destinations set consecutive_failures = 0, circuit_open_until = null
        where id = ${d.destination_id} and (consecutive_failures > 0 or circuit_open_until is not null)`);
      return;
    }
    const [failures] = rowsOf<{ n: number }>(
      await tx.execute(sql`
        update destinations set consecutive_failures = consecutive_failures + 1 where id = ${d.destination_id}
        returning consecutive_failures as n`),
    );
    const inARow = failures?.n ?? 0;
    if (inARow >= settings.circuitThreshold) {
      const cooldown = Math.min(30 * 2 ** (inARow - settings.circuitThreshold), 600);
      await tx.execute(sql`
        update destinations set circuit_open_until = now() + make_interval(secs => ${cooldown}) where id = ${d.destination_id}`);
      await holdBack(tx, d.destination_id, cooldown);
    }
    const delay = Math.min(settings.retryDelaySeconds * 2 ** (attempt - 1), settings.retryDelayMaxSeconds) * (0.5 + Math.random() / 2);
    const deadline = new Date(d.created_at).getTime() + settings.retryWindowSeconds * 1000;
    const exhausted = Date.now() + delay * 1000 > deadline || (settings.retryLimit !== undefined && attempt > settings.retryLimit);
    // Only while it is still ours: an erasure may have withdrawn it during the attempt.
    const still = rowsOf(
      await tx.execute(sql`
        update deliveries set status = ${exhausted ? 'failed' : 'retrying'}, attempts = ${attempt},
          last_status_code = ${outcome.statusCode}, last_error = ${outcome.error}, updated_at = now(),
          next_attempt_at = ${exhausted ? null : new Date(Date.now() + delay * 1000).toISOString()}
        where id = ${d.id} and status = 'sending' returning id`),
    );
    if (!exhausted && still.length > 0) {
      const job = deliverJob(d.id, d.destination_id);
      await ctx.boss.send(QUEUES.deliver, job.data, { startAfter: Math.ceil(delay), group: job.group, db: txAdapter(tx) });
    }
  });
}
