import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { sql } from 'drizzle-orm';
import type { Job } from 'pg-boss';
import { Agent, request } from 'undici';
import { type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { deliveries, destinations } from '../db/schema.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { postponeQueued } from '../queue/queued.ts';
import { idsMergedInto, isMergedAway } from '../resolution/read.ts';
import { consentGate, needsConsent, verdicts } from './consent-gate.ts';
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

/**
 * A send in `sending` whose attempt has not been recorded in this long was interrupted: no live
 * attempt lasts it (the longest destination timeout is two minutes).
 */
const SENDING_LEASE = sql`interval '5 minutes'`;
const INTERRUPTED = 'interrupted: the hub stopped before the answer was recorded';
/**
 * The furthest ahead a send takes a rate-limit slot: it waits for it in `sending`, well inside the
 * lease. A destination whose slots are taken further ahead (a slow rate, many workers) gets the
 * send back later, as a new job.
 */
const MAX_SLOT_WAIT_SECONDS = 30;

/** A delivery with its destination's sending settings; the check constraint holds `signature` to the schemes. */
type Claimed = RawRow<typeof deliveries, 'id' | 'event' | 'body' | 'attempts' | 'createdAt' | 'destinationId'> &
  RawRow<typeof destinations, 'url' | 'secret' | 'previousSecret' | 'previousSecretUntil' | 'rateLimit' | 'timeoutMs'> & {
    signature: SignatureScheme;
  };

/** A rate-limited send's slot: when it is let go, by the database's clock, and how long that is from now. */
interface Slot {
  at: Date;
  waitMs: number;
}

type Claim = { kind: 'send'; delivery: Claimed; slot: Slot | null } | { kind: 'defer'; seconds: number } | { kind: 'done' };

/**
 * Sends one delivery: the stored bytes, signed. Before sending it checks, in order, that the
 * delivery is still live (not superseded, withdrawn or sent), that it is no snapshot of a profile
 * merged away since, that no older delivery of the same profile (or of one merged into it) to the
 * same destination is in flight (order), that the destination's circuit is closed,
 * and that a person's record still qualifies (consent at send time, by the ledger); and once more, by the
 * consent gate, as its body is about to leave. Failures are retried with exponential backoff and
 * jitter across the retry window, then kept as dead letters.
 *
 * A send interrupted by a crash (the delivery left in `sending`) is sent again when pg-boss retries
 * its job, never taken as done: receivers deduplicate on X-Aurum-Delivery.
 */
export async function deliver(ctx: PipelineContext, job: Pick<Job<DeliverJob>, 'data' | 'retryCount'>): Promise<void> {
  const claim = await claimDelivery(ctx, job.data.deliveryId, job.retryCount > 0);
  if (claim.kind === 'done') return;
  if (claim.kind === 'defer') return defer(ctx, job.data, claim.seconds);
  if (claim.slot) await sleepFor(claim.slot.waitMs);
  const startedAt = claim.slot?.at ?? new Date();
  const outcome = await send(ctx, claim.delivery);
  // Withheld by the gate: nothing left, and the gate recorded why.
  if (outcome === 'withheld') return;
  await record(ctx, claim.delivery, outcome, startedAt);
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
 * Moves a destination's whole queued backlog past `seconds` (spread over ten more): while its
 * circuit is open, its jobs are not fetched one by one only to be put back, which would cost the
 * other destinations as much database time as their own sends.
 */
async function holdBack(ctx: PipelineContext, tx: Tx, destinationId: string, seconds: number) {
  await postponeQueued(ctx.boss, tx, 'deliver', { destinationId }, seconds, 10);
}

async function defer(ctx: PipelineContext, data: DeliverJob, seconds: number) {
  await enqueue(ctx.boss, undefined, 'deliver', data, {
    startAfter: Math.max(1, Math.ceil(seconds)),
    ...(data.destinationId ? { group: { id: data.destinationId } } : {}),
  });
}

/**
 * Takes the destination's next rate-limit slot, `1 / rate` s after the one taken last by any hub
 * process, or now if that is past: one update, so two processes never take the same slot, and a
 * stall (a slow event loop, a busy database) never lets a burst through to catch up. When the
 * slots are taken more than MAX_SLOT_WAIT_SECONDS ahead it takes none, and says for how many
 * seconds more that holds (`fullFor`). Runs in the claim's transaction, so a claim that does not
 * commit takes no slot.
 */
async function takeSlot(tx: Tx, destinationId: string, rate: number): Promise<Slot | { fullFor: number }> {
  const interval = sql`make_interval(secs => ${1 / rate})`;
  const [taken] = rowsOf<{ slot: Date | string; wait_ms: number | string }>(
    await tx.execute(sql`
      update destinations set rate_slot_at = greatest(rate_slot_at + ${interval}, clock_timestamp())
      where id = ${destinationId}
        and (rate_slot_at is null or rate_slot_at + ${interval} <= clock_timestamp() + make_interval(secs => ${MAX_SLOT_WAIT_SECONDS}))
      returning rate_slot_at as slot, greatest(extract(epoch from rate_slot_at - clock_timestamp()) * 1000, 0) as wait_ms`),
  );
  if (taken) return { at: new Date(taken.slot), waitMs: Number(taken.wait_ms) };
  const [full] = rowsOf<{ seconds: number | string }>(
    await tx.execute(sql`
      select extract(epoch from rate_slot_at + ${interval} - clock_timestamp()) - ${MAX_SLOT_WAIT_SECONDS} as seconds
      from destinations where id = ${destinationId}`),
  );
  return { fullFor: Number(full?.seconds ?? 0) };
}

/** Waits `ms` by the monotonic clock; a timer may fire a millisecond early, so it waits again until due. */
async function sleepFor(ms: number) {
  const due = performance.now() + ms;
  for (let left = ms; left > 0; left = due - performance.now()) await new Promise((resolve) => setTimeout(resolve, left));
}

/**
 * `retried`: pg-boss is running this job again, because the process that held it died or its handler
 * threw. A delivery it finds in `sending` is then the attempt that was interrupted.
 */
async function claimDelivery(ctx: PipelineContext, deliveryId: string, retried: boolean): Promise<Claim> {
  return ctx.database.db.transaction(async (tx): Promise<Claim> => {
    // Golden's subqueries over profiles are composed into the claim: a second query would be a round trip per delivery.
    const [row] = rowsOf<
      Claimed &
        RawRow<typeof deliveries, 'status' | 'profileId' | 'updatedAt'> &
        RawRow<typeof destinations, 'circuitOpenUntil' | 'consecutiveFailures'> & {
          probing: boolean;
          retired: boolean;
          ahead: string | number;
          leaseLeft: number | string | null;
        }
    >(
      await tx.execute(sql`
        select d.id, d.event, d.body, d.status, d.attempts, d.created_at as "createdAt", d.updated_at as "updatedAt",
          d.profile_id as "profileId", d.destination_id as "destinationId",
          t.url, t.secret, t.signature, t.previous_secret as "previousSecret", t.previous_secret_until as "previousSecretUntil",
          t.rate_limit as "rateLimit", t.timeout_ms as "timeoutMs",
          t.circuit_open_until as "circuitOpenUntil", t.consecutive_failures as "consecutiveFailures",
          extract(epoch from d.updated_at + ${SENDING_LEASE} - now()) as "leaseLeft",
          exists (select 1 from deliveries s where s.destination_id = d.destination_id and s.status = 'sending'
            and s.id <> d.id and s.updated_at > now() - ${SENDING_LEASE}) as probing,
          ${isMergedAway(sql`d.profile_id`)} as retired,
          (select count(*) from deliveries o where o.destination_id = d.destination_id
             and o.profile_id in (select d.profile_id union all ${idsMergedInto(sql`d.profile_id`)})
             and o.id <> d.id and (o.created_at, o.id) < (d.created_at, d.id)
             and (o.status in ('pending', 'retrying') or (o.status = 'sending' and o.updated_at > now() - ${SENDING_LEASE}))
          ) as ahead
        from deliveries d join destinations t on t.id = d.destination_id
        where d.id = ${deliveryId} for update of d`),
    );
    if (!row) return { kind: 'done' }; // gone with its destination
    // An attempt interrupted before its outcome was recorded (the process died mid-send) goes again.
    // A fresh job finding one in `sending` is a duplicate while the first may still be at it: it
    // comes back when that attempt's lease has run out, so no crash loses the delivery.
    const leaseLeft = Number(row.leaseLeft);
    const interrupted = row.status === 'sending' && (retried || leaseLeft <= 0);
    if (row.status === 'sending' && !interrupted) return { kind: 'defer', seconds: leaseLeft + 1 };
    if (interrupted) {
      // The lost attempt goes in the log and counts towards the retry limit like any other. From
      // here the delivery is an ordinary retry, so a deferral below hands it to a fresh job intact.
      await tx.execute(sql`
        insert into delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
        values (${row.id}, ${row.attempts + 1}, ${new Date(row.updatedAt).toISOString()}, null, ${INTERRUPTED}, 0)`);
      await tx.execute(sql`
        update deliveries set status = 'retrying', attempts = attempts + 1, last_error = ${INTERRUPTED}, updated_at = now()
        where id = ${row.id}`);
      row.status = 'retrying';
      row.attempts += 1;
    }
    // Sent, superseded by a newer version, withheld or withdrawn.
    if (!['pending', 'retrying'].includes(row.status)) return { kind: 'done' };
    // A snapshot of a profile merged away since: its merge (queued or sent) is the last the destination
    // hears of that id, so it must not arrive after it. The merge's fan-out supersedes such snapshots
    // too; this one was claimed between the merge and its fan-out.
    if (row.retired && (row.event === 'profile.updated' || row.event === 'account.updated')) {
      await tx.execute(sql`
        update deliveries set status = 'superseded', next_attempt_at = null, updated_at = now() where id = ${row.id}`);
      return { kind: 'done' };
    }
    const openUntil = row.circuitOpenUntil ? new Date(row.circuitOpenUntil).getTime() : 0;
    if (openUntil > Date.now()) return { kind: 'defer', seconds: (openUntil - Date.now()) / 1000 + Math.random() * 10 };
    // Half-open: the cooldown is over but the last attempts failed. One attempt at a time probes the
    // destination; the rest wait, so a destination coming back is not hit by its whole backlog at once.
    if (row.consecutiveFailures >= ctx.settings.delivery.circuitThreshold && row.probing) {
      const seconds = (row.timeoutMs ?? ctx.settings.delivery.timeoutMs) / 1000 + 2;
      await holdBack(ctx, tx, row.destinationId, seconds);
      return { kind: 'defer', seconds: seconds + Math.random() * 10 };
    }
    // Order: an older delivery of this profile, or of a profile merged into it since, to this
    // destination goes first (a merge or split of a retired id, or its snapshot still in flight).
    if (Number(row.ahead) > 0) return { kind: 'defer', seconds: 1 };
    // Consent at send time: a delivery queued before a withdrawal must not go (checked again at the gate).
    if (!(await verdicts(ctx, tx, [row.id])).get(row.id)?.allowed) {
      await tx.execute(sql`
        update deliveries set status = 'withheld', last_error = 'consent withdrawn before it was sent', updated_at = now()
        where id = ${row.id}`);
      return { kind: 'done' };
    }
    // Last, once the delivery is sure to go: a slot taken is a slot the destination's other sends lose.
    let slot: Slot | null = null;
    if (row.rateLimit) {
      const taken = await takeSlot(tx, row.destinationId, row.rateLimit);
      if ('fullFor' in taken) return { kind: 'defer', seconds: taken.fullFor + Math.random() * 5 };
      slot = taken;
    }
    await tx.execute(sql`update deliveries set status = 'sending', updated_at = now() where id = ${row.id}`);
    return { kind: 'send', delivery: row, slot };
  });
}

interface Outcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * One attempt. A person's record goes through the consent gate: it is handed to undici as
 * a stream that asks the gate only when undici reads it, which undici does once the connection is
 * up and just before it writes the request (nothing, not even the headers, has left by then). So
 * the gate's lock is held for the writing of a body, never for a connection being made.
 */
async function send(ctx: PipelineContext, d: Claimed): Promise<Outcome | 'withheld'> {
  const { allowPrivate, timeoutMs: defaultTimeout } = ctx.settings.delivery;
  const timeoutMs = d.timeoutMs ?? defaultTimeout;
  const previousValid = d.previousSecret && d.previousSecretUntil && new Date(d.previousSecretUntil).getTime() > Date.now();
  const signature = signatureHeaders(
    d.signature,
    { current: d.secret, previous: previousValid ? (d.previousSecret as string) : undefined },
    { id: d.id, body: d.body, timestamp: Math.floor(Date.now() / 1000) },
  );
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  // The timeout runs for the connection, and again from the gate's yes: a wait at the gate (behind
  // a linking transaction) is not the destination's slowness.
  const abort = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const startTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
  };
  let withheld = false;
  const gated = !needsConsent(d.event)
    ? d.body
    : gatedBody(ctx, d, {
        onPass: startTimer,
        onWithheld: () => {
          withheld = true;
        },
      });
  startTimer();
  try {
    const host = new URL(d.url).hostname.replace(/^\[|\]$/g, '');
    // Only a literal address is checked here; a name is checked as it resolves (publicOnlyLookup).
    if (!allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) throw new Error(`${host} is a private address`);
    const response = await request(d.url, {
      method: 'POST',
      dispatcher: allowPrivate ? agents.any : agents.public,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(d.body)),
        'user-agent': 'Aurum-Webhooks/1',
        'x-aurum-event': d.event,
        'x-aurum-delivery': d.id,
        ...signature,
      },
      body: gated,
      signal: abort.signal,
    });
    statusCode = response.statusCode;
    await response.body.dump({ limit: 64 * 1024 });
    if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
  } catch (e) {
    if (withheld) return 'withheld';
    const err = e as Error & { cause?: { code?: string; message?: string } };
    error =
      timedOut || err.name === 'TimeoutError' || err.name === 'AbortError'
        ? `timed out after ${timeoutMs} ms`
        : err.cause?.code === 'EPRIVATE'
          ? (err.cause.message ?? err.message)
          : err.message;
  } finally {
    clearTimeout(timer);
    if (typeof gated !== 'string') gated.destroy();
  }
  return { statusCode, error, durationMs: Math.round(performance.now() - started) };
}

class Withheld extends Error {
  override name = 'Withheld';
}

/** The body as a stream that asks the consent gate before it yields its bytes (see `send`). */
function gatedBody(ctx: PipelineContext, d: Claimed, on: { onPass(): void; onWithheld(): void }): Readable {
  let asked = false;
  const body = new Readable({
    read() {
      if (asked) return;
      asked = true;
      consentGate(ctx)
        .admit(d.id)
        .then(
          (admission) => {
            if (!admission.pass) {
              on.onWithheld();
              body.destroy(new Withheld('consent withdrawn before it was sent'));
              return;
            }
            // Handed over once undici has taken every byte (or the request is gone).
            body.once('end', admission.handedOff).once('close', admission.handedOff);
            if (body.destroyed) return admission.handedOff();
            on.onPass();
            body.push(d.body);
            body.push(null);
          },
          (error: unknown) => body.destroy(error as Error),
        );
    },
  });
  return body;
}

/**
 * Records an attempt. A failure schedules the next one, `retryDelay · 2^(attempt-1)` capped at
 * `retryDelayMax`, times a random factor in [0.5, 1) so a recovering destination is not hit by
 * every retry at once; past the retry window (or the retry limit) the delivery is a dead letter.
 * Failures in a row open the destination's circuit: no attempts for 30 s, doubling to 10 min.
 */
async function record(ctx: PipelineContext, d: Claimed, outcome: Outcome, startedAt: Date) {
  const settings = ctx.settings.delivery;
  const attempt = d.attempts + 1;
  // Whole milliseconds, as the attempt log keeps it: the schedule and the log agree.
  const delayMs = Math.floor(
    Math.min(settings.retryDelaySeconds * 2 ** (attempt - 1), settings.retryDelayMaxSeconds) * (0.5 + Math.random() / 2) * 1000,
  );
  const deadline = new Date(d.createdAt).getTime() + settings.retryWindowSeconds * 1000;
  const exhausted = Date.now() + delayMs > deadline || (settings.retryLimit !== undefined && attempt > settings.retryLimit);
  const retryDelayMs = outcome.error !== null && !exhausted ? delayMs : null;
  await ctx.database.db.transaction(async (tx) => {
    // An attempt's time is when it was let go (its rate-limit slot, if the destination has a limit).
    await tx.execute(sql`
      insert into delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms, retry_delay_ms)
      values (${d.id}, ${attempt}, ${startedAt.toISOString()}, ${outcome.statusCode}, ${outcome.error}, ${outcome.durationMs},
        ${retryDelayMs})`);
    if (outcome.error === null) {
      await tx.execute(sql`
        update deliveries set status = 'delivered', attempts = ${attempt}, last_status_code = ${outcome.statusCode},
          last_error = null, next_attempt_at = null, updated_at = now(), delivered_at = now()
        where id = ${d.id} and status = 'sending'`);
      await tx.execute(sql`
        update destinations set consecutive_failures = 0, circuit_open_until = null
        where id = ${d.destinationId} and (consecutive_failures > 0 or circuit_open_until is not null)`);
      return;
    }
    const [failures] = rowsOf<RawRow<typeof destinations, 'consecutiveFailures'>>(
      await tx.execute(sql`
        update destinations set consecutive_failures = consecutive_failures + 1 where id = ${d.destinationId}
        returning consecutive_failures as "consecutiveFailures"`),
    );
    const inARow = failures?.consecutiveFailures ?? 0;
    if (inARow >= settings.circuitThreshold) {
      const cooldown = Math.min(30 * 2 ** (inARow - settings.circuitThreshold), 600);
      await tx.execute(sql`
        update destinations set circuit_open_until = now() + make_interval(secs => ${cooldown}) where id = ${d.destinationId}`);
      await holdBack(ctx, tx, d.destinationId, cooldown);
    }
    // Only while it is still ours: an erasure may have withdrawn it during the attempt.
    const still = rowsOf(
      await tx.execute(sql`
        update deliveries set status = ${exhausted ? 'failed' : 'retrying'}, attempts = ${attempt},
          last_status_code = ${outcome.statusCode}, last_error = ${outcome.error}, updated_at = now(),
          next_attempt_at = ${exhausted ? null : new Date(Date.now() + delayMs).toISOString()}
        where id = ${d.id} and status = 'sending' returning id`),
    );
    if (!exhausted && still.length > 0) {
      const job = deliverJob(d.id, d.destinationId);
      await enqueue(ctx.boss, tx, 'deliver', job.data, { startAfter: Math.ceil(delayMs / 1000), group: job.group });
    }
  });
}
