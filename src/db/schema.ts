import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });
const id = () => bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity();
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Append-only: every record exactly as it arrived, before anything can fail. */
export const rawRecords = pgTable(
  'raw_records',
  {
    id: id(),
    source: text('source').notNull(),
    /** One id per accepted request, so the records of one webhook body can be found together. */
    intakeId: uuid('intake_id').notNull(),
    receivedAt: at('received_at').notNull().defaultNow(),
    /** sha256 of the request body's bytes as received. */
    bodyHash: text('body_hash').notNull(),
    /** sha256 of the record's canonical JSON: equal content, equal hash, whatever the key order. */
    contentHash: text('content_hash').notNull(),
    payload: jsonb('payload').notNull(),
    /**
     * The exact bytes received, kept only when `payload` had to differ from them: `\u0000` and lone
     * surrogates are valid JSON that jsonb refuses, so the payload holds U+FFFD in their place.
     */
    originalBody: bytea('original_body'),
    /** Set when an erasure emptied the payload: the row stays, so ids and counts still add up. */
    erasedAt: at('erased_at'),
  },
  (t) => [
    index('raw_records_source_idx').on(t.source, t.id),
    // Imports count a record already held, with the same content, as a duplicate.
    index('raw_records_content_idx').on(t.source, t.contentHash),
    index('raw_records_intake_idx').on(t.intakeId),
  ],
);

/**
 * Intakes stored but not yet handed to the ingest queue. A webhook's records and its row here are
 * written by one statement, so a 202 means both are durable; a dispatcher in every hub process
 * moves rows to pg-boss jobs in the transaction that deletes them (see `intake/dispatch.ts`).
 */
export const intakeOutbox = pgTable(
  'intake_outbox',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    intakeId: uuid('intake_id').notNull(),
    records: integer('records').notNull(),
    /** The records name objects to fetch (`ConnectorType.hydrate`): they go to the hydrate queue. */
    hydrate: boolean('hydrate').notNull().default(false),
    queuedAt: at('queued_at').notNull().defaultNow(),
  },
  (t) => [check('intake_outbox_records_positive', sql`${t.records} > 0`)],
);

/**
 * Replay keys of signed webhook deliveries (see `ConnectorType.verifyWebhook`). A delivery whose key
 * is here was received before. Kept a day, far longer than any vendor's timestamp tolerance.
 */
export const webhookReceipts = pgTable(
  'webhook_receipts',
  {
    source: text('source').notNull(),
    receipt: text('receipt').notNull(),
    receivedAt: at('received_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.source, t.receipt] }), index('webhook_receipts_received_idx').on(t.receivedAt)],
);

/** One pull of a source's API, scheduled or asked for: what it fetched, where it stopped, how it ended. */
export const syncRuns = pgTable(
  'sync_runs',
  {
    id: id(),
    source: text('source').notNull(),
    /** `full` starts from the beginning; otherwise from the source's saved cursor. */
    fullSync: boolean('full_sync').notNull().default(false),
    trigger: text('trigger').notNull(),
    status: text('status').notNull(),
    queuedAt: at('queued_at').notNull().defaultNow(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
    pages: integer('pages').notNull().default(0),
    records: integer('records').notNull().default(0),
    requests: integer('requests').notNull().default(0),
    cursorFrom: jsonb('cursor_from'),
    cursorTo: jsonb('cursor_to'),
    error: jsonb('error'),
  },
  (t) => [
    index('sync_runs_source_idx').on(t.source, t.id),
    // One run queued or running per source at a time.
    uniqueIndex('sync_runs_one_active_idx').on(t.source).where(sql`${t.status} in ('queued', 'running')`),
    check('sync_runs_status', sql`${t.status} in ('queued', 'running', 'succeeded', 'failed')`),
    check('sync_runs_trigger', sql`${t.trigger} in ('schedule', 'api')`),
  ],
);

/** Where each source's incremental pull resumes: saved with every page's records, in one transaction. */
export const sourceCursors = pgTable('source_cursors', {
  source: text('source').primaryKey(),
  cursor: jsonb('cursor').notNull(),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/** A file uploaded to `POST /sources/:source/import`: what was stored, and how far the pipeline is. */
export const imports = pgTable(
  'imports',
  {
    id: uuid('id').primaryKey(),
    source: text('source').notNull(),
    format: text('format').notNull(),
    status: text('status').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    /** Records stored and queued for the pipeline. */
    accepted: integer('accepted').notNull().default(0),
    /** Records identical to one the source already had (or one earlier in the file): not stored again. */
    duplicates: integer('duplicates').notNull().default(0),
    /** Lines or rows refused (invalid JSON, too large, wrong column count...), with the first few reasons. */
    rejected: integer('rejected').notNull().default(0),
    problems: jsonb('problems').notNull().default([]),
    /** Records the pipeline has mapped (or quarantined) so far. */
    processed: integer('processed').notNull().default(0),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    finishedAt: at('finished_at'),
    /**
     * Last sign of life of the process receiving the file (each stored batch, and a timer): a
     * `receiving` import whose heartbeat is older than `IMPORT_STALE_MS` lost its process.
     */
    heartbeatAt: at('heartbeat_at').notNull().defaultNow(),
    /** The lowest and highest raw id stored: bound the quarantine count of `GET /imports/:id` to this range. */
    firstRawId: bigint('first_raw_id', { mode: 'number' }),
    lastRawId: bigint('last_raw_id', { mode: 'number' }),
  },
  (t) => [
    check('imports_status', sql`${t.status} in ('receiving', 'received', 'done', 'failed', 'interrupted')`),
    check('imports_format', sql`${t.format} in ('csv', 'ndjson')`),
  ],
);

/** The current state of each record of each source, as mapped; points at its profile. */
export const sourceRecords = pgTable(
  'source_records',
  {
    id: id(),
    source: text('source').notNull(),
    object: text('object').notNull(),
    recordId: text('record_id').notNull(),
    /** What the mapping made of the record: a person (`profile:`) or an account (`account:`). */
    entity: text('entity').notNull().default('person'),
    profileId: uuid('profile_id')
      .notNull()
      .references(() => profiles.id),
    rawId: bigint('raw_id', { mode: 'number' })
      .notNull()
      .references(() => rawRecords.id),
    contentHash: text('content_hash').notNull(),
    fragment: jsonb('fragment').notNull(),
    mappingFile: text('mapping_file').notNull(),
    mappingHash: text('mapping_hash').notNull(),
    sourceUpdatedAt: at('source_updated_at'),
    observedAt: at('observed_at').notNull(),
    /**
     * Why the record is on its profile: the deterministic rule and the record it matched, or the
     * per-field comparison levels and total weight of its best probabilistic match.
     */
    link: jsonb('link'),
    /** When the vendor deleted or archived the object: it no longer counts in its golden record or links. */
    deletedAt: at('deleted_at'),
    /**
     * The values the mapping dropped from the fragment as invalid or blocked, `[{field, kind,
     * message, value}]` (`mapping/violations.ts`); null when none. The values are the record's own,
     * erased with it.
     */
    violations: jsonb('violations'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('source_records_identity_idx').on(t.source, t.object, t.recordId),
    index('source_records_profile_idx').on(t.profileId),
    // `GET /quality/violations` counts the few records that hold violations, not every record.
    index('source_records_violations_idx').on(t.source).where(sql`${t.violations} is not null`),
    check('source_records_violations_check', sql`${t.violations} is null or jsonb_typeof(${t.violations}) = 'array'`),
    check('source_records_entity_check', sql`${t.entity} in ('person', 'account')`),
  ],
);

/** Match keys (normalised email, E.164 phone, system:id) of each record, indexed for linking. */
export const recordKeys = pgTable(
  'record_keys',
  {
    key: text('key').notNull(),
    recordPk: bigint('record_pk', { mode: 'number' })
      .notNull()
      .references(() => sourceRecords.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.key, t.recordPk] }), index('record_keys_record_idx').on(t.recordPk)],
);

/**
 * A profile's identity, resolution's: created by linking (or a split), retired into its survivor
 * by a merge, marked erased by an erasure. Its golden record is golden's, in `golden_records`.
 */
export const profiles = pgTable(
  'profiles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** A person or an account (a company): resolution never puts the two in one profile. */
    entity: text('entity').notNull().default('person'),
    /** Creation order: the oldest profile survives a merge. */
    seq: bigint('seq', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    createdAt: at('created_at').notNull().defaultNow(),
    /** When it was merged away (its golden record's own time is `golden_records.updated_at`). */
    updatedAt: at('updated_at').notNull().defaultNow(),
    /** Set when the profile was merged away: the id keeps answering with its survivor. */
    mergedInto: uuid('merged_into'),
    /** Set by an erasure: the id answers nothing any more, and its golden record is empty. */
    erasedAt: at('erased_at'),
  },
  (t) => [
    uniqueIndex('profiles_seq_idx').on(t.seq),
    check('profiles_entity_check', sql`${t.entity} in ('person', 'account')`),
    // GET /accounts lists accounts newest first without reading every person.
    index('profiles_account_seq_idx').on(t.seq).where(sql`${t.entity} = 'account' and ${t.mergedInto} is null`),
    index('profiles_merged_into_idx').on(t.mergedInto).where(sql`${t.mergedInto} is not null`),
  ],
);

/**
 * A profile's golden record, golden's: written by the golden stage when it changes. A profile
 * without a row has none yet, and reads as one of these defaults (version 0, `{}`, no members).
 */
export const goldenRecords = pgTable('golden_records', {
  profileId: uuid('profile_id')
    .primaryKey()
    .references(() => profiles.id),
  version: integer('version').notNull().default(0),
  golden: jsonb('golden').notNull().default({}),
  lineage: jsonb('lineage').notNull().default({}),
  goldenHash: text('golden_hash').notNull().default(''),
  /**
   * An account's members as destinations last heard of them (`account.member_added`/`_removed`
   * are the difference with the members now); `[]` for a person.
   */
  members: jsonb('members').notNull().default([]),
  /** When the golden record last changed (or was erased); the profile's `created_at` before it was first built. */
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/** Append-only history of merges, each with what bridged the profiles and who did it. */
export const profileMerges = pgTable(
  'profile_merges',
  {
    id: id(),
    survivorId: uuid('survivor_id').notNull(),
    retiredIds: uuid('retired_ids').array().notNull(),
    /**
     * `link`: records bridged profiles; `manual`: someone forced a merge; `split`: someone moved records
     * out (survivor = the profile split, retired = the new profile); `refused`: a pin kept profiles apart.
     */
    kind: text('kind').notNull(),
    details: jsonb('details').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason'),
    at: at('at').notNull().defaultNow(),
  },
  (t) => [
    index('profile_merges_survivor_idx').on(t.survivorId),
    check('profile_merges_kind_check', sql`${t.kind} in ('link', 'manual', 'split', 'refused')`),
  ],
);

/**
 * Decisions someone pinned: these two records never link automatically (written by a split, lifted
 * by a forced merge of their profiles).
 */
export const linkPins = pgTable(
  'link_pins',
  {
    recordA: bigint('record_a', { mode: 'number' })
      .notNull()
      .references(() => sourceRecords.id, { onDelete: 'cascade' }),
    recordB: bigint('record_b', { mode: 'number' })
      .notNull()
      .references(() => sourceRecords.id, { onDelete: 'cascade' }),
    actor: text('actor').notNull(),
    reason: text('reason'),
    at: at('at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.recordA, t.recordB] }),
    index('link_pins_b_idx').on(t.recordB),
    check('link_pins_order_check', sql`${t.recordA} < ${t.recordB}`),
  ],
);

/**
 * Memberships a person's record states (`accounts: [{ref, role}]`): the account it names by one of
 * the account's keys (`ref_key`, as `record_keys` holds them), so a reference to an account that has
 * not arrived yet links once it does. A membership the record stops stating is closed (`valid_to`),
 * never deleted; stated again, it opens a new row.
 */
export const memberships = pgTable(
  'memberships',
  {
    id: id(),
    recordPk: bigint('record_pk', { mode: 'number' })
      .notNull()
      .references(() => sourceRecords.id, { onDelete: 'cascade' }),
    source: text('source').notNull(),
    refKey: text('ref_key').notNull(),
    /** The reference as the mapping stated it: `{externalIds: {…}}`, `{domain}`, `{name}` or `{registrationIds: {…}}`. */
    ref: jsonb('ref').notNull(),
    role: text('role'),
    validFrom: at('valid_from').notNull().defaultNow(),
    validTo: at('valid_to'),
  },
  (t) => [
    uniqueIndex('memberships_open_idx').on(t.recordPk, t.refKey).where(sql`${t.validTo} is null`),
    index('memberships_record_idx').on(t.recordPk),
    index('memberships_ref_idx').on(t.refKey),
    check('memberships_valid_check', sql`${t.validTo} is null or ${t.validTo} >= ${t.validFrom}`),
  ],
);

/** Append-only consent ledger; a profile's entries are those of its member records. */
export const consentEntries = pgTable(
  'consent_entries',
  {
    id: id(),
    recordPk: bigint('record_pk', { mode: 'number' })
      .notNull()
      .references(() => sourceRecords.id, { onDelete: 'cascade' }),
    source: text('source').notNull(),
    recordId: text('record_id').notNull(),
    purpose: text('purpose').notNull(),
    status: text('status').notNull(),
    /** When the statement was made; never after the record's receipt (a later stated time is capped). */
    at: at('at').notNull(),
    /** The time the source stated where it was after the record's receipt, so `at` was capped; else null. */
    statedAt: at('stated_at'),
    receivedAt: at('received_at').notNull().defaultNow(),
    mappingFile: text('mapping_file').notNull(),
    mappingHash: text('mapping_hash').notNull(),
  },
  (t) => [
    uniqueIndex('consent_entries_statement_idx').on(t.recordPk, t.purpose, t.status, t.at),
    check('consent_entries_status_check', sql`${t.status} in ('granted', 'denied')`),
    check('consent_entries_stated_check', sql`${t.statedAt} is null or ${t.statedAt} > ${t.at}`),
  ],
);

export const quarantine = pgTable(
  'quarantine',
  {
    id: id(),
    rawId: bigint('raw_id', { mode: 'number' })
      .notNull()
      .references(() => rawRecords.id),
    source: text('source').notNull(),
    mappingFile: text('mapping_file'),
    code: text('code').notNull(),
    message: text('message').notNull(),
    status: text('status').notNull().default('open'),
    createdAt: at('created_at').notNull().defaultNow(),
    resolvedAt: at('resolved_at'),
  },
  (t) => [
    index('quarantine_open_idx').on(t.createdAt).where(sql`${t.status} = 'open'`),
    index('quarantine_raw_idx').on(t.rawId),
    // A flag is a violation the record was processed with (a value replaced or refused as a key): one per raw record and code.
    uniqueIndex('quarantine_flag_idx').on(t.rawId, t.code).where(sql`${t.status} = 'flagged'`),
    check('quarantine_status_check', sql`${t.status} in ('open', 'resolved', 'flagged')`),
  ],
);

export const destinations = pgTable(
  'destinations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    url: text('url').notNull(),
    purposes: text('purposes').array().notNull().default(sql`'{}'::text[]`),
    /** Generated by the hub and shown once; the destination verifies our signatures with it. */
    secret: text('secret').notNull(),
    /** `github` (X-Aurum-Signature-256) or `standard-webhooks` (webhook-id/-timestamp/-signature). */
    signature: text('signature').notNull().default('github'),
    /** The secret before the last rotation, still signed with until `previous_secret_until`. */
    previousSecret: text('previous_secret'),
    previousSecretUntil: at('previous_secret_until'),
    /** Top-level golden-record fields sent (data minimisation); null: all of them. */
    fields: text('fields').array(),
    /** Events sent; null: all of them. */
    events: text('events').array(),
    /** The entity types whose changes it hears of: `person` (profile.*) and/or `account` (account.*). */
    entities: text('entities').array().notNull().default(sql`'{person}'::text[]`),
    /** Requests per second at most; null: no limit. */
    rateLimit: real('rate_limit'),
    /** One attempt's timeout; null: AURUM_DELIVERY_TIMEOUT_MS. */
    timeoutMs: integer('timeout_ms'),
    /** Circuit breaker: failures in a row, and until when no attempt is made. */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    circuitOpenUntil: at('circuit_open_until'),
    /**
     * Rate limiter, shared by every hub process: when the latest send was (or is to be) let go, by
     * the database's clock. A send takes the next slot, `1 / rate_limit` s after it, in one update.
     */
    rateSlotAt: at('rate_slot_at'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('destinations_signature_check', sql`${t.signature} in ('github', 'standard-webhooks')`),
    // At least one entity type, each one the hub knows: a destination hearing of nothing is a mistake.
    check('destinations_entities_check', sql`cardinality(${t.entities}) > 0 and ${t.entities} <@ array['person', 'account']::text[]`),
  ],
);

/** What each destination last learned of each profile, so it hears of changes and suppression once. */
export const destinationStates = pgTable(
  'destination_states',
  {
    destinationId: uuid('destination_id')
      .notNull()
      .references(() => destinations.id, { onDelete: 'cascade' }),
    profileId: uuid('profile_id').notNull(),
    status: text('status').notNull(),
    goldenHash: text('golden_hash').notNull(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.destinationId, t.profileId] }),
    check('destination_states_status_check', sql`${t.status} in ('sent', 'suppressed')`),
  ],
);

export const deliveries = pgTable(
  'deliveries',
  {
    /** Sent as X-Aurum-Delivery; the same on every retry, so consumers can deduplicate. */
    id: uuid('id').primaryKey().defaultRandom(),
    destinationId: uuid('destination_id')
      .notNull()
      .references(() => destinations.id, { onDelete: 'cascade' }),
    profileId: uuid('profile_id').notNull(),
    event: text('event').notNull(),
    /** The exact bytes signed and sent, serialised once. */
    body: text('body').notNull(),
    /**
     * pending → sending → delivered, or → retrying → … → failed (a dead letter, after the retry
     * window); superseded (a newer version for the same profile came first), withheld (consent was
     * withdrawn before it was sent), withdrawn (the profile was erased).
     */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** When the profile changed: the clock of the delivery's latency. */
    changedAt: at('changed_at'),
    nextAttemptAt: at('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    deliveredAt: at('delivered_at'),
  },
  (t) => [
    index('deliveries_destination_idx').on(t.destinationId, t.createdAt),
    index('deliveries_profile_idx').on(t.profileId),
    check(
      'deliveries_status_check',
      sql`${t.status} in ('pending', 'sending', 'retrying', 'delivered', 'failed', 'superseded', 'withheld', 'withdrawn')`,
    ),
    // The live delivery of each profile to each destination: what a newer version supersedes.
    index('deliveries_live_idx').on(t.destinationId, t.profileId).where(sql`${t.status} in ('pending', 'sending', 'retrying')`),
  ],
);

/** Append-only: every attempt at every delivery, with what the destination answered. */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: id(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    at: at('at').notNull().defaultNow(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    /** The backoff chosen after this attempt failed; null: no retry (delivered, or given up). */
    retryDelayMs: integer('retry_delay_ms'),
  },
  (t) => [index('delivery_attempts_delivery_idx').on(t.deliveryId)],
);

/**
 * Fellegi–Sunter models the hub trained on its own records, newest in force. A model belongs to the
 * comparisons it was trained for (`config_hash`): changing them in identity.yaml needs a new model.
 */
export const identityModels = pgTable(
  'identity_models',
  {
    id: id(),
    configHash: text('config_hash').notNull(),
    /** Records in the database when training began, and how many of them were sampled. */
    records: integer('records').notNull(),
    sampled: integer('sampled').notNull(),
    candidatePairs: bigint('candidate_pairs', { mode: 'number' }).notNull(),
    /** `{lambda, m, u, tf}`; tf holds only values seen more than once. */
    model: jsonb('model').notNull(),
    trainedBy: text('trained_by').notNull(),
    trainedAt: at('trained_at').notNull().defaultNow(),
  },
  (t) => [index('identity_models_config_idx').on(t.configHash, t.id)],
);

/**
 * API keys made with `aurum keys create` or `POST /keys`. Only the token's SHA-256 is kept: the
 * token is 32 random bytes, so a fast hash is as safe as a slow one and costs a lookup, not a
 * scan. `AURUM_API_KEYS` keys live in the environment, not here.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    tokenHash: text('token_hash').notNull(),
    /** The token's first characters, so a key can be recognised in a list without being usable. */
    tokenPrefix: text('token_prefix').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    revokedAt: at('revoked_at'),
    revokedBy: text('revoked_by'),
  },
  (t) => [
    uniqueIndex('api_keys_token_hash_idx').on(t.tokenHash),
    // A name means one live key; a revoked key's name may be used again.
    uniqueIndex('api_keys_live_name_idx').on(t.name).where(sql`${t.revokedAt} is null`),
    check('api_keys_role_check', sql`${t.role} in ('admin', 'ops', 'compliance', 'reader')`),
    check('api_keys_name_check', sql`${t.name} ~ '^[A-Za-z0-9_.@-]{1,64}$'`),
  ],
);

/**
 * Who did what to whom, and why: reads of a profile's personal data, merges, splits, consent
 * changes, exports, erasures and key changes. Written in the transaction of the act it records, and
 * append-only: a trigger refuses updates and deletes. It names profiles by id and holds no
 * personal data, so it outlives an erasure.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    at: at('at').notNull().defaultNow(),
    /** The API key's name, `aurum` for the pipeline itself, `cli` for the command line. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    profileId: uuid('profile_id'),
    /** From the `X-Aurum-Reason` header, or a request's `reason`. */
    reason: text('reason'),
    /** What the act touched, beyond the profile: a route, a key's name, the profiles merged. Never personal data. */
    details: jsonb('details').notNull().default({}),
  },
  (t) => [
    index('audit_log_profile_idx').on(t.profileId, t.id).where(sql`${t.profileId} is not null`),
    index('audit_log_actor_idx').on(t.actor, t.id),
    index('audit_log_action_idx').on(t.action, t.id),
  ],
);

/** Data-subject erasures: who asked, why, and how much was removed. Holds no personal data. */
export const erasures = pgTable('erasures', {
  id: uuid('id').primaryKey().defaultRandom(),
  profileId: uuid('profile_id').notNull(),
  at: at('at').notNull().defaultNow(),
  actor: text('actor').notNull(),
  reason: text('reason'),
  records: integer('records').notNull(),
  rawRecords: integer('raw_records').notNull(),
  identifiers: integer('identifiers').notNull(),
});

/**
 * Salted SHA-256 of each erased identifier (`email:…`, `phone:…`, `ext:system:id`, `nid:…`) and
 * record (`rec:source/object/id`): enough to recognise the person arriving again, not to recover
 * who they were.
 */
export const erasureTombstones = pgTable('erasure_tombstones', {
  hash: text('hash').primaryKey(),
  erasureId: uuid('erasure_id')
    .notNull()
    .references(() => erasures.id),
});

/** The salt of the tombstone hashes: one per hub, random, made at the first erasure. */
export const erasureSalt = pgTable(
  'erasure_salt',
  {
    id: integer('id').primaryKey(),
    salt: text('salt').notNull(),
  },
  (t) => [check('erasure_salt_single_check', sql`${t.id} = 1`)],
);

/** Records of an erased person that arrived again and were dropped rather than re-create them. */
export const suppressions = pgTable(
  'suppressions',
  {
    id: id(),
    erasureId: uuid('erasure_id')
      .notNull()
      .references(() => erasures.id),
    source: text('source').notNull(),
    rawId: bigint('raw_id', { mode: 'number' }).notNull(),
    /** Which kind of identifier recognised it: email, phone, ext, nid or rec. */
    matched: text('matched').notNull(),
    at: at('at').notNull().defaultNow(),
  },
  (t) => [index('suppressions_erasure_idx').on(t.erasureId, t.id)],
);

/** Sending every qualifying profile to one destination, a page at a time, resumable from `after_id`. */
export const backfills = pgTable(
  'backfills',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    destinationId: uuid('destination_id')
      .notNull()
      .references(() => destinations.id, { onDelete: 'cascade' }),
    status: text('status').notNull().default('running'),
    /** Active profiles when it started, and how many it has been through. */
    total: integer('total').notNull(),
    processed: integer('processed').notNull().default(0),
    /** Deliveries it queued (profiles that qualify). */
    queued: integer('queued').notNull().default(0),
    afterId: uuid('after_id'),
    startedAt: at('started_at').notNull().defaultNow(),
    finishedAt: at('finished_at'),
  },
  (t) => [
    check('backfills_status_check', sql`${t.status} in ('running', 'done')`),
    uniqueIndex('backfills_running_idx').on(t.destinationId).where(sql`${t.status} = 'running'`),
  ],
);

/**
 * Each golden version's lineage, appended when the golden record changes: what
 * `GET /profiles/:id/lineage?history=true` replays to say when each value won or lost.
 */
export const lineageHistory = pgTable(
  'lineage_history',
  {
    id: id(),
    profileId: uuid('profile_id').notNull(),
    version: integer('version').notNull(),
    lineage: jsonb('lineage').notNull(),
    at: at('at').notNull().defaultNow(),
  },
  (t) => [index('lineage_history_profile_idx').on(t.profileId, t.version)],
);

/**
 * Re-derivations of stored data after its definition changed: `keys` (the record keys that
 * identity.yaml's rules make), `golden` (golden records, after a source's priority changed) and
 * `mappings` (records mapped again, after their mapping's text changed). A rebuild walks its table
 * in id order; `cursor` is the last id done, so a rebuild whose process died resumes where it
 * stopped.
 */
export const rebuilds = pgTable(
  'rebuilds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    reason: text('reason').notNull(),
    /** The hash of the definition it derives from: the next start compares the workspace's with it. */
    definition: text('definition').notNull(),
    status: text('status').notNull().default('queued'),
    total: integer('total').notNull().default(0),
    processed: integer('processed').notNull().default(0),
    cursor: bigint('cursor', { mode: 'number' }).notNull().default(0),
    error: text('error'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    finishedAt: at('finished_at'),
  },
  (t) => [
    check('rebuilds_kind', sql`${t.kind} in ('keys', 'golden', 'mappings', 'links')`),
    check('rebuilds_status', sql`${t.status} in ('queued', 'running', 'done', 'failed')`),
    // One rebuild of a kind at a time: a second asked for meanwhile is the same one.
    uniqueIndex('rebuilds_active_idx').on(t.kind).where(sql`${t.status} in ('queued', 'running')`),
    index('rebuilds_kind_idx').on(t.kind, t.createdAt),
  ],
);
