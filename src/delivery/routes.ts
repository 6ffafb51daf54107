import type { JSONSchemaType } from 'ajv';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AuthEnv } from '../access/auth.ts';
import { type Db, type RawRow, rowsOf } from '../db/database.ts';
import type { deliveries, destinations } from '../db/schema.ts';
import { isUuid, textArray } from '../db/sql.ts';
import { ACCOUNT_GOLDEN_FIELDS, GOLDEN_FIELDS } from '../golden/build.ts';
import { ApiError } from '../http/errors.ts';
import { afterTime, microsOf, type TimePosition, timeCursor, timePage } from '../http/keyset.ts';
import { arr, dateTime, describeRoute, int, limitQuery, nullable, num, obj, type Schema, str, strEnum, uuid } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import { bodyValidator, pageLimit } from '../http/validate.ts';
import { ENTITIES, type Entity } from '../mapping/mapping-file.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue, MAX_DESTINATION_TIMEOUT_MS } from '../queue/catalog.ts';
import { backfillProgress, startBackfill } from './backfill.ts';
import { privateDestinationProblem } from './private-addresses.ts';
import { deliverJob } from './send.ts';
import { newSecret, type SignatureScheme } from './signing.ts';

/** What ops may set on a destination. */
interface DestinationSettings {
  url: string;
  purposes?: string[];
  signature?: SignatureScheme;
  fields?: string[] | null;
  events?: string[] | null;
  entities?: Entity[];
  rateLimit?: number | null;
  timeoutMs?: number | null;
}

const PERSON_EVENTS = ['profile.updated', 'profile.merged', 'profile.split', 'profile.suppressed', 'profile.erased'];
const ACCOUNT_EVENTS = ['account.updated', 'account.merged', 'account.split', 'account.member_added', 'account.member_removed'];
const settingsProperties = {
  url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 },
  purposes: { type: 'array', nullable: true, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' }, uniqueItems: true },
  signature: { type: 'string', nullable: true, enum: ['github', 'standard-webhooks'] },
  fields: { type: 'array', nullable: true, items: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' }, uniqueItems: true },
  events: {
    type: 'array',
    nullable: true,
    minItems: 1,
    items: { type: 'string', enum: [...PERSON_EVENTS, ...ACCOUNT_EVENTS] },
    uniqueItems: true,
  },
  // Not nullable: a destination takes some kind of record, persons unless it says otherwise.
  entities: { type: 'array', minItems: 1, items: { type: 'string', enum: ENTITIES }, uniqueItems: true },
  rateLimit: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 10_000 },
  timeoutMs: { type: 'integer', nullable: true, minimum: 100, maximum: MAX_DESTINATION_TIMEOUT_MS },
} as const;
const newDestination = bodyValidator<DestinationSettings>({
  type: 'object',
  additionalProperties: false,
  properties: settingsProperties,
  required: ['url'],
} as unknown as JSONSchemaType<DestinationSettings>);
const destinationPatch = bodyValidator<Partial<DestinationSettings>>({
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { ...settingsProperties, url: { ...settingsProperties.url, nullable: true } },
} as unknown as JSONSchemaType<Partial<DestinationSettings>>);
const rotation = bodyValidator<{ overlapSeconds?: number }>({
  type: 'object',
  additionalProperties: false,
  properties: { overlapSeconds: { type: 'integer', nullable: true, minimum: 0, maximum: 30 * 86_400 } },
} as JSONSchemaType<{ overlapSeconds?: number }>);
const replayRequest = bodyValidator<{ from: string; to: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } },
} as JSONSchemaType<{ from: string; to: string }>);

const destinationSchema: Schema = obj({
  id: uuid,
  url: str,
  purposes: arr(str),
  signature: strEnum('github', 'standard-webhooks'),
  fields: nullable(arr(str)),
  events: nullable(arr(str)),
  entities: arr(strEnum(...ENTITIES)),
  rateLimit: nullable(num),
  timeoutMs: nullable(int),
  previousSecretValidUntil: nullable(dateTime),
  circuit: obj({ state: strEnum('open', 'closed'), consecutiveFailures: int, openUntil: nullable(dateTime) }),
  createdAt: dateTime,
  updatedAt: dateTime,
});
const withSecret: Schema = {
  ...destinationSchema,
  required: [...(destinationSchema['required'] as string[]), 'secret'],
  properties: { ...(destinationSchema['properties'] as object), secret: str },
};
const deliverySchema = obj({
  id: uuid,
  profileId: uuid,
  event: str,
  status: str,
  attempts: arr(
    obj({ attempt: int, at: str, statusCode: nullable(int), error: nullable(str), durationMs: num, retryDelayMs: nullable(num) }),
  ),
  lastStatusCode: nullable(int),
  lastError: nullable(str),
  createdAt: dateTime,
  deliveredAt: nullable(dateTime),
  nextAttemptAt: nullable(dateTime),
});
const backfillSchema = obj({
  id: uuid,
  destinationId: uuid,
  status: strEnum('running', 'done'),
  total: int,
  processed: int,
  queued: int,
  progress: { type: 'number', minimum: 0, maximum: 1 },
  startedAt: dateTime,
  finishedAt: nullable(dateTime),
});
const TAG = 'Destinations';
const bodyErrors = ['unknown_field', 'destination_private'] as const;
describeRoute('POST /destinations', {
  tag: TAG,
  audience: 'ops',
  summary: 'Adds a destination; its secret is shown this once',
  body: { schema: newDestination.schema },
  responses: { 201: { description: 'the destination and its secret', schema: withSecret } },
  errors: [...bodyErrors],
});
describeRoute('GET /destinations', {
  tag: TAG,
  audience: 'ops',
  summary: 'Every destination, oldest first',
  responses: { 200: { description: 'destinations', schema: obj({ destinations: arr(destinationSchema) }) } },
});
describeRoute('GET /destinations/:id', {
  tag: TAG,
  audience: 'ops',
  summary: 'One destination',
  responses: { 200: { description: 'the destination', schema: destinationSchema } },
  errors: ['destination_not_found'],
});
describeRoute('PATCH /destinations/:id', {
  tag: TAG,
  audience: 'ops',
  summary: 'Changes a destination',
  body: { schema: destinationPatch.schema },
  responses: { 200: { description: 'the destination', schema: destinationSchema } },
  errors: ['destination_not_found', ...bodyErrors],
});
describeRoute('DELETE /destinations/:id', {
  tag: TAG,
  audience: 'ops',
  summary: 'Removes a destination and its delivery log',
  responses: { 204: { description: 'removed' } },
  errors: ['destination_not_found'],
});
describeRoute('POST /destinations/:id/rotate-secret', {
  tag: TAG,
  audience: 'ops',
  summary: 'A new secret; the old one signs too for `overlapSeconds` (default a day)',
  body: { schema: rotation.schema, required: false },
  responses: { 200: { description: 'the destination and its new secret', schema: withSecret } },
  errors: ['destination_not_found'],
});
describeRoute('GET /destinations/:id/deliveries', {
  tag: TAG,
  audience: 'ops',
  summary: 'Its deliveries, newest first, with each attempt',
  query: { status: str, limit: limitQuery(100, 1000), cursor: { type: 'string', description: 'the `next` of the previous page' } },
  responses: { 200: { description: 'deliveries', schema: obj({ deliveries: arr(deliverySchema), next: nullable(str) }) } },
  errors: ['destination_not_found'],
});
describeRoute('GET /destinations/:id/dead-letters', {
  tag: TAG,
  audience: 'ops',
  summary: 'Its failed deliveries, newest first',
  query: { limit: limitQuery(100, 1000), cursor: { type: 'string', description: 'the `next` of the previous page' } },
  responses: { 200: { description: 'dead letters', schema: obj({ deadLetters: arr(deliverySchema), next: nullable(str) }) } },
  errors: ['destination_not_found'],
});
describeRoute('POST /destinations/:id/replay', {
  tag: TAG,
  audience: 'ops',
  summary: 'Sends the dead letters of a window again',
  body: { schema: replayRequest.schema },
  responses: { 202: { description: 'the new deliveries', schema: obj({ replayed: int, deliveries: arr(uuid) }) } },
  errors: ['destination_not_found'],
});
describeRoute('POST /destinations/:id/backfill', {
  tag: TAG,
  audience: 'ops',
  summary: 'Sends every profile (and account, if it takes accounts) to the destination, in the background',
  responses: { 202: { description: 'the backfill (a running one as is)', schema: backfillSchema } },
  errors: ['destination_not_found'],
});
describeRoute('GET /destinations/:id/backfill', {
  tag: TAG,
  audience: 'ops',
  summary: 'The progress of its backfill',
  responses: { 200: { description: 'its latest backfill', schema: backfillSchema } },
  errors: ['destination_not_found', 'not_found'],
});

/** The check constraint holds `signature` to the schemes, and the API `entities` to the entities. */
type DestinationRow = RawRow<
  typeof destinations,
  | 'id'
  | 'url'
  | 'purposes'
  | 'fields'
  | 'events'
  | 'rateLimit'
  | 'timeoutMs'
  | 'previousSecretUntil'
  | 'consecutiveFailures'
  | 'circuitOpenUntil'
  | 'createdAt'
  | 'updatedAt'
> & { signature: SignatureScheme; entities: Entity[] };
const COLUMNS = sql`id, url, purposes, signature, fields, events, entities, rate_limit as "rateLimit", timeout_ms as "timeoutMs",
  previous_secret_until as "previousSecretUntil", consecutive_failures as "consecutiveFailures",
  circuit_open_until as "circuitOpenUntil", created_at as "createdAt", updated_at as "updatedAt"`;
const iso = (v: Date | string | null) => (v ? new Date(v).toISOString() : null);
const view = (d: DestinationRow) => ({
  id: d.id,
  url: d.url,
  purposes: d.purposes,
  signature: d.signature,
  fields: d.fields,
  events: d.events,
  entities: d.entities,
  rateLimit: d.rateLimit,
  timeoutMs: d.timeoutMs,
  previousSecretValidUntil: d.previousSecretUntil && new Date(d.previousSecretUntil) > new Date() ? iso(d.previousSecretUntil) : null,
  circuit: {
    state: d.circuitOpenUntil && new Date(d.circuitOpenUntil) > new Date() ? 'open' : 'closed',
    consecutiveFailures: d.consecutiveFailures,
    openUntil: iso(d.circuitOpenUntil),
  },
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
});

/**
 * Destinations and their delivery log. Who may call: ops and admin (each route's `allow`).
 * The secret is shown once, at creation and at rotation; the hub keeps it only to sign.
 */
export function destinationRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const find = async (id: string) => {
    const [row] = isUuid(id) ? rowsOf<DestinationRow>(await db.execute(sql`select ${COLUMNS} from destinations where id = ${id}`)) : [];
    if (!row) throw new ApiError('destination_not_found', `there is no destination ${id}`);
    return row;
  };
  /** Checks the settings as they will be: those asked for, over the destination's `current` ones on a PATCH. */
  const check = async (input: Partial<DestinationSettings>, current?: DestinationRow) => {
    const entities = input.entities ?? current?.entities ?? ['person'];
    // A misspelt field (`email` for `emails`) would send the destination nothing of it, silently.
    // One allowlist serves both kinds of record: each is sent the fields it has.
    const known = [...new Set(entities.flatMap((e) => (e === 'account' ? ACCOUNT_GOLDEN_FIELDS : GOLDEN_FIELDS)))];
    const unknownFields = ((input.fields !== undefined ? input.fields : current?.fields) ?? []).filter((f) => !known.includes(f));
    if (unknownFields.length > 0) {
      throw new ApiError(
        'unknown_field',
        `fields in no golden record the destination takes (${entities.join(', ')}): ${unknownFields.join(', ')}; ` +
          `the fields are ${known.join(', ')} (id, version and updatedAt are always sent)`,
      );
    }
    // Events of a kind the destination does not take would never come, silently. An erasure goes to
    // every destination, whatever it takes.
    const events = (input.events !== undefined ? input.events : current?.events) ?? [];
    const foreign = events.filter((e) => e !== 'profile.erased' && !entities.includes(ACCOUNT_EVENTS.includes(e) ? 'account' : 'person'));
    if (foreign.length > 0) {
      throw new ApiError(
        'invalid_request',
        `events of records the destination does not take: ${foreign.join(', ')}; it takes ${entities.join(', ')} (see entities)`,
      );
    }
    const purposes = ctx.workspace().purposes;
    const unknown = (input.purposes ?? []).filter((p) => !purposes.known(p));
    if (unknown.length > 0) throw new ApiError('invalid_request', `purposes not declared in consent.yaml: ${unknown.join(', ')}`);
    if (input.url && !ctx.settings.delivery.allowPrivate) {
      const problem = await privateDestinationProblem(input.url);
      if (problem) throw new ApiError('destination_private', `the destination URL is refused: ${problem}`);
    }
  };

  return new Hono<AuthEnv>()
    .post('/destinations', allow('ops'), async (c) => {
      const input = await newDestination(c);
      await check(input);
      const signature = input.signature ?? 'github';
      const secret = newSecret(signature);
      const [row] = rowsOf<DestinationRow>(
        await db.execute(sql`
          insert into destinations (url, purposes, secret, signature, fields, events, entities, rate_limit, timeout_ms)
          values (${input.url}, ${textArray(input.purposes ?? [])}, ${secret}, ${signature}, ${nullableArray(input.fields)},
            ${nullableArray(input.events)}, ${textArray(input.entities ?? ['person'])}, ${input.rateLimit ?? null}, ${input.timeoutMs ?? null})
          returning ${COLUMNS}`),
      );
      return c.json({ ...view(row as DestinationRow), secret }, 201);
    })
    .get('/destinations', allow('ops'), async (c) => {
      const rows = rowsOf<DestinationRow>(await db.execute(sql`select ${COLUMNS} from destinations order by created_at`));
      return c.json({ destinations: rows.map(view) });
    })
    .get('/destinations/:id', allow('ops'), async (c) => c.json(view(await find(c.req.param('id')))))
    .patch('/destinations/:id', allow('ops'), async (c) => {
      const current = await find(c.req.param('id'));
      const input = await destinationPatch(c);
      await check(input, current);
      if (input.signature && input.signature !== current.signature) {
        throw new ApiError('invalid_request', 'the signature scheme changes with the secret: create a new destination, or rotate');
      }
      const set = (column: string, value: unknown) => sql`${sql.identifier(column)} = ${value}`;
      const updates = [
        ...(input.url ? [set('url', input.url)] : []),
        ...(input.purposes !== undefined ? [sql`purposes = ${textArray(input.purposes ?? [])}`] : []),
        ...(input.fields !== undefined ? [sql`fields = ${nullableArray(input.fields)}`] : []),
        ...(input.events !== undefined ? [sql`events = ${nullableArray(input.events)}`] : []),
        ...(input.entities ? [sql`entities = ${textArray(input.entities)}`] : []),
        ...(input.rateLimit !== undefined ? [set('rate_limit', input.rateLimit)] : []),
        ...(input.timeoutMs !== undefined ? [set('timeout_ms', input.timeoutMs)] : []),
      ];
      const [row] = rowsOf<DestinationRow>(
        await db.execute(sql`
          update destinations set ${sql.join([...updates, sql`updated_at = now()`], sql`, `)}
          where id = ${current.id} returning ${COLUMNS}`),
      );
      return c.json(view(row as DestinationRow));
    })
    .delete('/destinations/:id', allow('ops'), async (c) => {
      const current = await find(c.req.param('id'));
      // Its deliveries and states go with it (cascade); queued sends find nothing and end.
      await db.execute(sql`delete from destinations where id = ${current.id}`);
      return c.body(null, 204);
    })
    .post('/destinations/:id/rotate-secret', allow('ops'), async (c) => {
      const current = await find(c.req.param('id'));
      const { overlapSeconds = 86_400 } = await rotation(c, { optional: true });
      const secret = newSecret(current.signature);
      const [row] = rowsOf<DestinationRow>(
        await db.execute(sql`
          update destinations set previous_secret = secret, secret = ${secret},
            previous_secret_until = now() + make_interval(secs => ${overlapSeconds}), updated_at = now()
          where id = ${current.id} returning ${COLUMNS}`),
      );
      return c.json({ ...view(row as DestinationRow), secret });
    })
    .get('/destinations/:id/deliveries', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const page = await listDeliveries(db, destination.id, c.req.query('status'), pageLimit(c), timeCursor(c));
      return c.json({ deliveries: page.items, next: page.next });
    })
    .get('/destinations/:id/dead-letters', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const page = await listDeliveries(db, destination.id, 'failed', pageLimit(c), timeCursor(c));
      return c.json({ deadLetters: page.items, next: page.next });
    })
    .post('/destinations/:id/replay', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const { from, to } = await replayRequest(c);
      // Each dead letter of the window goes again as a new delivery, unless a newer delivery of the
      // same profile has reached the destination since: replaying the older one would undo it. An
      // account's member event is overtaken only by a newer one about the same person: a newer
      // version of the account's record says nothing of its members.
      const member = (alias: string) => sql.raw(`${alias}.event like 'account.member%'`);
      const replayed = await db.transaction(async (tx) => {
        const rows = rowsOf<RawRow<typeof deliveries, 'id' | 'destinationId'>>(
          await tx.execute(sql`
            insert into deliveries (destination_id, profile_id, event, body, changed_at)
            select d.destination_id, d.profile_id, d.event, d.body, d.changed_at from deliveries d
            where d.destination_id = ${destination.id} and d.status = 'failed'
              and d.created_at >= ${from}::timestamptz and d.created_at < ${to}::timestamptz
              and not exists (select 1 from deliveries n where n.destination_id = d.destination_id and n.profile_id = d.profile_id
                and n.created_at > d.created_at and n.status in ('delivered', 'pending', 'sending', 'retrying')
                and case when ${member('d')}
                  then ${member('n')} and n.body::jsonb #>> '{member,profileId}' = d.body::jsonb #>> '{member,profileId}'
                  else not ${member('n')} end)
            order by d.created_at
            returning id, destination_id as "destinationId"`),
        );
        if (rows.length > 0) {
          await enqueue(
            ctx.boss,
            tx,
            'deliver',
            rows.map((r) => deliverJob(r.id, r.destinationId)),
          );
        }
        return rows.map((r) => r.id);
      });
      return c.json({ replayed: replayed.length, deliveries: replayed }, 202);
    })
    .post('/destinations/:id/backfill', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const backfill = await startBackfill(ctx, destination.id);
      return c.json(backfill, 202);
    })
    .get('/destinations/:id/backfill', allow('ops'), async (c) => {
      const destination = await find(c.req.param('id'));
      const progress = await backfillProgress(db, destination.id);
      if (!progress) throw new ApiError('not_found', `destination ${destination.id} has no backfill`);
      return c.json(progress);
    });
}

const nullableArray = (values: readonly string[] | null | undefined) => (values ? textArray(values) : null);

async function listDeliveries(db: Db, destinationId: string, status: string | undefined, limit: number, after?: TimePosition) {
  const fetched = rowsOf<
    RawRow<
      typeof deliveries,
      'id' | 'profileId' | 'event' | 'status' | 'lastStatusCode' | 'lastError' | 'createdAt' | 'deliveredAt' | 'nextAttemptAt'
    > & {
      attemptLog: {
        attempt: number;
        at: string;
        statusCode: number | null;
        error: string | null;
        durationMs: number;
        retryDelayMs: number | null;
      }[];
      cursor_micros: string | number;
    }
  >(
    await db.execute(sql`
      select d.id, d.profile_id as "profileId", d.event, d.status, d.last_status_code as "lastStatusCode", d.last_error as "lastError",
        d.created_at as "createdAt", d.delivered_at as "deliveredAt", d.next_attempt_at as "nextAttemptAt",
        ${microsOf(sql`d.created_at`)} as cursor_micros,
        coalesce((select json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'statusCode', a.status_code,
          'error', a.error, 'durationMs', a.duration_ms, 'retryDelayMs', a.retry_delay_ms) order by a.attempt)
          from delivery_attempts a where a.delivery_id = d.id), '[]'::json) as "attemptLog"
      from deliveries d
      where d.destination_id = ${destinationId} ${status ? sql`and d.status = ${status}` : sql``}
        ${afterTime(sql`d.created_at`, sql`d.id`, after)}
      order by d.created_at desc, d.id limit ${limit + 1}`),
  );
  const { rows, next } = timePage(fetched, limit);
  const items = rows.map((r) => ({
    id: r.id,
    profileId: r.profileId,
    event: r.event,
    status: r.status,
    attempts: r.attemptLog,
    lastStatusCode: r.lastStatusCode,
    lastError: r.lastError,
    createdAt: iso(r.createdAt),
    deliveredAt: iso(r.deliveredAt),
    nextAttemptAt: iso(r.nextAttemptAt),
  }));
  return { items, next };
}
