import { sign } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import type { Job } from 'pg-boss';
import { Agent, request } from 'undici';
import { rowsOf } from '../db/database.ts';
import type { PipelineContext } from '../pipeline-context.ts';

export interface DeliverJob {
  deliveryId: string;
}

/** Keep-alive connections to destinations, shared by every send of this process. */
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

export class DeliveryFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryFailed';
  }
}

/**
 * Sends one delivery: the stored bytes, signed with the destination's secret. A non-2xx answer or a
 * timeout throws, so pg-boss retries it with exponential backoff; every attempt is recorded.
 */
export async function deliver(ctx: PipelineContext, job: Job<DeliverJob>): Promise<void> {
  const db = ctx.database.db;
  const [delivery] = rowsOf<{ id: string; event: string; body: string; status: string; url: string; secret: string; attempts: number }>(
    await db.execute(sql`
      select d.id, d.event, d.body, d.status, d.attempts, t.url, t.secret
      from deliveries d join destinations t on t.id = d.destination_id where d.id = ${job.data.deliveryId}`),
  );
  // Destination deleted, a retry after success, or a delivery an erasure withdrew.
  if (!delivery || delivery.status === 'delivered' || delivery.status === 'failed') return;

  const signature = await sign(delivery.secret, delivery.body);
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const response = await request(delivery.url, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Aurum-Webhooks/1',
        'x-aurum-event': delivery.event,
        'x-aurum-delivery': delivery.id,
        'x-aurum-signature-256': signature,
      },
      body: delivery.body,
      signal: AbortSignal.timeout(ctx.settings.delivery.timeoutMs),
    });
    statusCode = response.statusCode;
    await response.body.dump({ limit: 64 * 1024 });
    if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
  } catch (e) {
    const err = e as Error;
    error =
      err.name === 'TimeoutError' || err.name === 'AbortError' ? `timed out after ${ctx.settings.delivery.timeoutMs} ms` : err.message;
  }
  const durationMs = Math.round(performance.now() - started);
  const attempt = delivery.attempts + 1;
  const lastTry = job.retryCount >= ctx.settings.delivery.retryLimit;
  const status = error === null ? 'delivered' : lastTry ? 'failed' : 'retrying';
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms)
      values (${delivery.id}, ${attempt}, ${statusCode}, ${error}, ${durationMs})`);
    await tx.execute(sql`
      update deliveries set status = ${status}, attempts = ${attempt}, last_status_code = ${statusCode},
        last_error = ${error}, updated_at = now(), delivered_at = ${error === null ? sql`now()` : null}
      where id = ${delivery.id}`);
  });
  if (error !== null) throw new DeliveryFailed(`delivery ${delivery.id}: ${error}`);
}
