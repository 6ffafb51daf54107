/**
 * Delivery downstream tools can trust: both signature schemes (checked with the `standardwebhooks`
 * package and Octokit), secret rotation, data minimisation, event filters, ordering, consent at
 * send time, retries into dead letters, replay, backfill, the circuit breaker and SSRF refusal.
 */
import { verify } from '@octokit/webhooks-methods';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../src/delivery/private-addresses.ts';
import { startTestHub, type TestHub, waitFor } from './helpers/hub.ts';
import { type Answer, startReceiver } from './helpers/receiver.ts';

let t: TestHub;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
/** What each path answers now; default 204. */
const answers = new Map<string, (attempt: number) => Answer>();
beforeAll(async () => {
  t = await startTestHub({ env: { AURUM_DELIVERY_CIRCUIT_THRESHOLD: '8' } });
  receiver = await startReceiver((path, attempt) => answers.get(path)?.(attempt) ?? 204);
});
afterAll(async () => {
  await t?.stop();
  await receiver?.close();
});

type Destination = { id: string; secret: string } & Record<string, any>;
async function destination(path: string, settings: Record<string, unknown> = {}): Promise<Destination> {
  const response = await t.call('POST', '/destinations', { url: receiver.url(path), ...settings });
  expect(response.status).toBe(201);
  const created = (await response.json()) as Destination;
  receiver.trust(path, created.secret);
  return created;
}
const at = (path: string) => receiver.received.filter((r) => r.path === path);
const crm = async (record: Record<string, unknown>) => {
  expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
  await t.settle();
};
/** Posts without waiting for the pipeline to settle: retries scheduled for later would hold it up. */
const post = async (record: Record<string, unknown>) => {
  expect((await t.postWebhook('crm', JSON.stringify(record))).status).toBe(202);
};
const deliveries = async (id: string, status?: string) =>
  (await t.json<{ deliveries: Record<string, any>[] }>('GET', `/destinations/${id}/deliveries${status ? `?status=${status}` : ''}`))
    .deliveries;

describe('signatures', () => {
  it('signs with Standard Webhooks headers that the standardwebhooks package verifies', async () => {
    const d = await destination('/std', { signature: 'standard-webhooks' });
    expect(d.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(d.signature).toBe('standard-webhooks');
    await crm({ id: 'sw-1', email: 'sw1@example.com', first_name: 'Sol' });
    await waitFor(async () => at('/std').length === 1);
    const [received] = at('/std');
    const headers = received?.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(headers['x-aurum-delivery']);
    expect(headers['x-aurum-signature-256']).toBeUndefined();
    expect(new Webhook(d.secret).verify(received?.body as string, headers)).toMatchObject({ event: 'profile.updated' });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(received?.body as string, headers)).toThrow();
  });

  it('keeps the old secret valid through a rotation’s overlap: both signatures are sent', async () => {
    const gh = await destination('/gh-rot');
    const std = await destination('/std-rot', { signature: 'standard-webhooks' });
    const rotated = async (d: Destination) => {
      const response = await t.call('POST', `/destinations/${d.id}/rotate-secret`, { overlapSeconds: 3600 });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Destination;
      expect(body.secret).not.toBe(d.secret);
      // The overlap runs from the rotation, by the database's clock: exactly the hour asked for.
      expect(Date.parse(body['previousSecretValidUntil']) - Date.parse(body['updatedAt'])).toBe(3600_000);
      return body.secret;
    };
    const [ghNew, stdNew] = [await rotated(gh), await rotated(std)];
    receiver.trust('/gh-rot', ghNew);
    await crm({ id: 'sw-2', email: 'sw2@example.com', first_name: 'Rotan' });
    await waitFor(async () => at('/gh-rot').length === 1 && at('/std-rot').length === 1);
    const ghReceived = at('/gh-rot')[0];
    expect(ghReceived?.signatureValid).toBe(true);
    const previous = String(ghReceived?.headers['x-aurum-signature-256-previous']);
    expect(await verify(gh.secret, ghReceived?.body as string, previous)).toBe(true);
    const stdReceived = at('/std-rot')[0];
    const headers = stdReceived?.headers as Record<string, string>;
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [std.secret, stdNew]) expect(() => new Webhook(secret).verify(stdReceived?.body as string, headers)).not.toThrow();

    // Without an overlap the old secret stops at once.
    await t.call('POST', `/destinations/${gh.id}/rotate-secret`, { overlapSeconds: 0 });
    expect((await t.json<Destination>('GET', `/destinations/${gh.id}`))['previousSecretValidUntil']).toBeNull();
  });
});

describe('per destination', () => {
  it('sends only the allowlisted fields and the events asked for; PATCH changes them, DELETE removes the destination', async () => {
    const minimal = await destination('/minimal', { fields: ['emails'], events: ['profile.updated'] });
    const mergesOnly = await destination('/merges', { events: ['profile.merged'] });
    await crm({ id: 'pd-1', email: 'pd1@example.com', first_name: 'Pia', last_name: 'Dahl', phone: '+447911123456' });
    await waitFor(async () => at('/minimal').some((r) => r.json.profile?.emails?.includes('pd1@example.com')));
    const sent = at('/minimal').find((r) => r.json.profile?.emails?.includes('pd1@example.com'));
    expect(Object.keys(sent?.json.profile).sort()).toEqual(['emails', 'id', 'updatedAt', 'version']);
    expect(sent?.body).not.toContain('Dahl');
    expect(at('/merges')).toHaveLength(0);

    const patched = await t.call('PATCH', `/destinations/${minimal.id}`, { fields: ['emails', 'name'], rateLimit: 50, timeoutMs: 3000 });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ fields: ['emails', 'name'], rateLimit: 50, timeoutMs: 3000, events: ['profile.updated'] });
    await crm({ id: 'pd-1', email: 'pd1@example.com', first_name: 'Pia', last_name: 'Dahl-Berg', phone: '+447911123456' });
    await waitFor(async () => at('/minimal').some((r) => r.json.profile?.name?.family === 'Dahl-Berg'));
    expect((await t.call('PATCH', `/destinations/${minimal.id}`, { signature: 'standard-webhooks' })).status).toBe(400);
    expect((await t.call('PATCH', `/destinations/${minimal.id}`, {})).status).toBe(400);

    expect((await t.call('DELETE', `/destinations/${mergesOnly.id}`)).status).toBe(204);
    expect((await t.call('GET', `/destinations/${mergesOnly.id}`)).status).toBe(404);
  });
});

describe('field allowlist', () => {
  it('sends nothing to a destination with an allowlist when only other fields change', async () => {
    const minimal = await destination('/only-emails-name', { fields: ['emails', 'name'] });
    await destination('/everything');
    await crm({ id: 'fa-1', email: 'fa1@example.com', first_name: 'Fay', phone: '+447911123001' });
    await waitFor(async () => at('/only-emails-name').length === 1 && at('/everything').length === 1);

    // A new phone and company: a new version, news to a destination holding every field only.
    await crm({ id: 'fa-1', email: 'fa1@example.com', first_name: 'Fay', phone: '+447911123002', company: 'Fay Ltd' });
    await waitFor(async () => at('/everything').length === 2);
    expect(at('/everything')[1]?.json.profile).toMatchObject({ phones: ['+447911123002'], version: 2 });
    await t.settle();
    expect(at('/only-emails-name')).toHaveLength(1);
    expect((await deliveries(minimal.id)).map((d) => d['status'])).toEqual(['delivered']);

    // A change to an allowlisted field is news.
    await crm({ id: 'fa-1', email: 'fa1@example.com', first_name: 'Faye', phone: '+447911123002', company: 'Fay Ltd' });
    await waitFor(async () => at('/only-emails-name').length === 2);
    expect(at('/only-emails-name')[1]?.json.profile).toMatchObject({ name: { given: 'Faye' }, emails: ['fa1@example.com'] });
    expect(at('/only-emails-name')[1]?.body).not.toContain('+447911123002');
  });

  it('refuses field names the golden record does not have, on POST and PATCH, naming them and the allowed ones', async () => {
    const refused = await t.call('POST', '/destinations', { url: receiver.url('/misspelt'), fields: ['email', 'name', 'fullName'] });
    expect(refused.status).toBe(422);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unknown_field');
    expect(error.message).toContain('email, fullName');
    for (const allowed of ['emails', 'phones', 'name', 'dateOfBirth', 'addresses', 'externalIds', 'attributes', 'consent', 'sources']) {
      expect(error.message).toContain(allowed);
    }
    expect((await t.json<{ destinations: { url: string }[] }>('GET', '/destinations')).destinations.map((d) => d.url)).not.toContain(
      receiver.url('/misspelt'),
    );

    const d = await destination('/spelt', { fields: ['emails'] });
    const patched = await t.call('PATCH', `/destinations/${d.id}`, { fields: ['emails', 'phone'] });
    expect(patched.status).toBe(422);
    expect(await patched.json()).toMatchObject({ error: { code: 'unknown_field', message: expect.stringContaining('phone;') } });
    expect((await t.json<Destination>('GET', `/destinations/${d.id}`))['fields']).toEqual(['emails']);
    expect((await t.call('PATCH', `/destinations/${d.id}`, { fields: ['emails', 'phones', 'consent'] })).status).toBe(200);
  });
});

describe('rate and timeout per destination', () => {
  it('spaces sends by the destination’s rateLimit, and gives up an attempt at its timeoutMs', async () => {
    const paced = await destination('/paced', { rateLimit: 5 });
    answers.set('/sluggish', (attempt) => (attempt === 1 ? { status: 204, delayMs: 1500 } : 204));
    const sluggish = await destination('/sluggish', { timeoutMs: 300 });
    const records = Array.from({ length: 6 }, (_, i) => ({ id: `rt-${i}`, email: `rt${i}@example.com` }));
    expect((await t.postWebhook('crm', JSON.stringify(records))).status).toBe(202);
    await waitFor(async () => at('/paced').filter((r) => r.json.profile?.emails?.[0]?.startsWith('rt')).length === 6);
    // Each attempt is written to the log once its answer is in: wait for the sixth, not only the receiver.
    await waitFor(async () => (await deliveries(paced.id)).flatMap((d) => d['attempts']).length === 6);
    // An attempt's time is the slot the rate limiter gave it (the next free one, a fifth of a second
    // after the one taken before it, at five a second): the schedule the hub wrote, not a clock read
    // by the test. A limiter that let a burst through would have given out slots closer together.
    const slots = (await deliveries(paced.id))
      .flatMap((d) => d['attempts'].map((a: { at: string }) => Date.parse(a.at)))
      .sort((a: number, b: number) => a - b);
    expect(slots).toHaveLength(6);
    const spacing = slots.slice(1).map((slot: number, i: number) => slot - (slots[i] as number));
    expect(Math.min(...spacing)).toBeGreaterThanOrEqual(200);

    await waitFor(async () =>
      (await deliveries(sluggish.id)).some((d) => d['attempts'].some((a: { error: string }) => a.error?.includes('timed out'))),
    );
    const timedOut = (await deliveries(sluggish.id)).find((d) => d['attempts'][0]?.error);
    // Given up at the timeout, not waited out: the answer (a 204, after 1.5 s) was never read.
    expect(timedOut?.['attempts'][0]).toMatchObject({ error: 'timed out after 300 ms', statusCode: null });
  });
});

describe('ordering, consent at send time, retries', () => {
  it('supersedes an older version not yet sent: the destination never receives it after a newer one', async () => {
    let down = true;
    answers.set('/ordered', () => (down ? 503 : 204));
    const d = await destination('/ordered');
    await post({ id: 'or-1', email: 'or1@example.com', first_name: 'Version1', updated_at: '2024-01-01T00:00:00Z' });
    await waitFor(async () => (await deliveries(d.id, 'retrying')).length === 1);
    await post({ id: 'or-1', email: 'or1@example.com', first_name: 'Version2', updated_at: '2024-02-01T00:00:00Z' });
    await waitFor(async () => (await deliveries(d.id)).length === 2);
    down = false;
    await waitFor(async () => (await deliveries(d.id, 'delivered')).length === 1);
    const all = await deliveries(d.id);
    expect(all.map((x) => x.status).sort()).toEqual(['delivered', 'superseded']);
    await t.settle();
    expect(at('/ordered').map((r) => r.json.profile.name.given)).toEqual(['Version2']);
  });

  it('does not send a delivery queued before consent was withdrawn', async () => {
    let down = true;
    answers.set('/consented', () => (down ? 503 : 204));
    const d = await destination('/consented', { purposes: ['marketing'] });
    await post({ id: 'cw-1', email: 'cw1@example.com', marketing_opt_in: true, updated_at: '2024-01-01T00:00:00Z' });
    await waitFor(async () => (await deliveries(d.id, 'retrying')).length === 1);
    // The withdrawal is linked (its ledger entry committed) before the retry comes due, and the
    // golden record, rebuilt by a later job, still says granted: the ledger decides.
    await t.testDb.database.db.execute(sql`
      insert into consent_entries (record_pk, source, record_id, purpose, status, at, mapping_file, mapping_hash)
      select record_pk, source, record_id, purpose, 'denied', '2024-02-01T00:00:00Z', mapping_file, mapping_hash
      from consent_entries where source = 'crm' and record_id = 'cw-1' and purpose = 'marketing'`);
    down = false;
    await waitFor(async () => (await deliveries(d.id, 'withheld')).length === 1);
    expect(at('/consented')).toHaveLength(0);
    // The withdrawal itself arrives: the same entry, and the golden record agrees with the ledger.
    await crm({ id: 'cw-1', email: 'cw1@example.com', marketing_opt_in: false, updated_at: '2024-02-01T00:00:00Z' });
  });

  it('retries with backoff, keeps a dead letter when it gives up, replays it, and opens the circuit of a failing destination', {
    timeout: 60_000,
  }, async () => {
    let down = true;
    answers.set('/flaky-dl', () => (down ? 500 : 204));
    const d = await destination('/flaky-dl');
    const from = new Date(Date.now() - 1000).toISOString();
    await post({ id: 'dl-1', email: 'dl1@example.com', first_name: 'Dee' });
    await post({ id: 'dl-2', email: 'dl2@example.com', first_name: 'Del' });
    await waitFor(
      async () => (await t.json<{ deadLetters: unknown[] }>('GET', `/destinations/${d.id}/dead-letters`)).deadLetters.length === 2,
      40_000,
    );
    const { deadLetters } = await t.json<{ deadLetters: Record<string, any>[] }>('GET', `/destinations/${d.id}/dead-letters`);
    // The first attempt and three retries (AURUM_DELIVERY_RETRY_LIMIT=3), each scheduled further
    // out: the backoff each failure chose (AURUM_DELIVERY_RETRY_DELAY=1 s, doubling, times a jitter
    // in [0.5, 1)), and none after the last.
    const attempts = deadLetters[0]?.['attempts'] as { attempt: number; retryDelayMs: number | null }[];
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    const [first, second, third, last] = attempts.map((a) => a.retryDelayMs);
    expect(first).toBeGreaterThanOrEqual(500);
    expect(first).toBeLessThan(1000);
    expect(second).toBeGreaterThanOrEqual(1000);
    expect(second).toBeLessThan(2000);
    expect(third).toBeGreaterThanOrEqual(2000);
    expect(third).toBeLessThan(4000);
    expect(last).toBeNull();
    // Eight failures in a row: the circuit is open.
    const state = await t.json<Destination>('GET', `/destinations/${d.id}`);
    expect(state['circuit']).toMatchObject({ state: 'open', consecutiveFailures: 8 });

    down = false;
    await t.testDb.database.db.execute(sql`update destinations set circuit_open_until = null where id = ${d.id}`);
    const replay = await t.call('POST', `/destinations/${d.id}/replay`, { from, to: new Date().toISOString() });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ replayed: 2 });
    await waitFor(async () => at('/flaky-dl').length === 2);
    expect(at('/flaky-dl').every((r) => r.signatureValid)).toBe(true);
    expect((await t.json<Destination>('GET', `/destinations/${d.id}`))['circuit']).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
    });
  });
});

describe('retry window', () => {
  it('keeps retrying until AURUM_DELIVERY_RETRY_WINDOW runs out, then keeps a dead letter', { timeout: 60_000 }, async () => {
    // A two-second window: the retry limit of the test hubs (3) is never reached.
    const short = await startTestHub({ env: { AURUM_DELIVERY_RETRY_WINDOW: '2' } });
    try {
      answers.set('/window', () => 503);
      const created = (await (await short.call('POST', '/destinations', { url: receiver.url('/window') })).json()) as Destination;
      receiver.trust('/window', created.secret);
      expect((await short.postWebhook('crm', JSON.stringify({ id: 'rw-1', email: 'rw1@example.com' }))).status).toBe(202);
      await waitFor(
        async () =>
          (await short.json<{ deadLetters: unknown[] }>('GET', `/destinations/${created.id}/dead-letters`)).deadLetters.length === 1,
      );
      const [dead] = (
        await short.json<{ deadLetters: { attempts: unknown[]; nextAttemptAt: null }[] }>('GET', `/destinations/${created.id}/dead-letters`)
      ).deadLetters;
      expect(dead?.attempts.length).toBeGreaterThanOrEqual(1);
      expect(dead?.attempts.length).toBeLessThan(4);
      expect(dead?.nextAttemptAt).toBeNull();
    } finally {
      await short.stop();
    }
  });
});

describe('backfill', () => {
  it('sends every qualifying profile to a new destination, with progress', async () => {
    await crm({ id: 'bf-1', email: 'bf1@example.com', marketing_opt_in: true });
    await crm({ id: 'bf-2', email: 'bf2@example.com', marketing_opt_in: true });
    const d = await destination('/late', { purposes: ['marketing'] });
    const granted = (await t.json<{ profiles: unknown[] }>('GET', '/consent?purpose=marketing&status=granted')).profiles.length;
    const response = await t.call('POST', `/destinations/${d.id}/backfill`);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'running', total: expect.any(Number) });
    await waitFor(async () => (await t.json<{ status: string }>('GET', `/destinations/${d.id}/backfill`)).status === 'done');
    const progress = await t.json<Record<string, number>>('GET', `/destinations/${d.id}/backfill`);
    expect(progress).toMatchObject({ progress: 1, queued: granted });
    expect(progress['processed']).toBe(progress['total']);
    expect(granted).toBeGreaterThanOrEqual(2);
    await waitFor(async () => at('/late').length === granted);
  });
});

describe('SSRF', () => {
  it('refuses destinations on loopback, private or link-local addresses unless allowed', async () => {
    const strict = await startTestHub({ env: { AURUM_ALLOW_PRIVATE_DESTINATIONS: 'false' } });
    try {
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://localhost/x',
        'http://169.254.169.254/latest',
        'http://[::1]/x',
        'http://10.1.2.3/x',
      ]) {
        const response = await strict.call('POST', '/destinations', { url });
        expect(response.status, url).toBe(422);
        expect(await response.json()).toMatchObject({
          error: { code: 'destination_private', message: expect.stringContaining('AURUM_ALLOW_PRIVATE_DESTINATIONS') },
        });
      }
    } finally {
      await strict.stop();
    }
    expect(['192.168.1.1', '172.20.0.1', '::ffff:127.0.0.1', 'fe80::1', 'fd00::1', '100.64.0.1'].every(isPrivateAddress)).toBe(true);
    expect(['93.184.216.34', '2606:4700:4700::1111', '8.8.8.8'].some(isPrivateAddress)).toBe(false);
  });
});
