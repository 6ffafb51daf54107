import path from 'node:path';
import { Ajv } from 'ajv';
import { isSupportedCountry } from 'libphonenumber-js';

/**
 * Every setting the hub reads from its environment, parsed once at start-up.
 * A bad or missing value stops the hub with a message that names it.
 */
export type Role = 'admin' | 'ops' | 'compliance' | 'reader';
export const ROLES: readonly Role[] = ['admin', 'ops', 'compliance', 'reader'];

export interface ApiKey {
  role: Role;
  /** Recorded as the actor of what the key does; never the token itself. */
  name: string;
  token: string;
}

export interface Settings {
  port: number;
  role: 'api' | 'worker' | 'all';
  configDir: string;
  dataDir: string;
  databaseUrl: string | undefined;
  apiKeys: ApiKey[];
  /** The largest request body of a webhook or an authenticated JSON route (413 past it); file imports have none. */
  maxBodyBytes: number;
  /** The largest single record, in bytes of its JSON: a webhook body's item, an import's line or row. */
  maxRecordBytes: number;
  /** The deepest nesting of arrays and objects a record may have. */
  maxJsonDepth: number;
  /** The interface the HTTP server binds. */
  host: string;
  /** A webhook request still arriving this long after its headers is cut off (408); its headers get as long. */
  webhookTimeoutMs: number;
  /** Connections the HTTP server holds open at once; 16 more may ask /health alone (503 otherwise), more are closed. */
  maxConnections: number;
  defaultRegion: string | undefined;
  logLevel: string;
  ingestBatchSize: number;
  workerConcurrency: number;
  linkTransactionSize: number;
  /** How often the queue's supervisor runs: how soon a crashed worker's jobs are released. */
  superviseIntervalSeconds: number;
  delivery: {
    timeoutMs: number;
    /** Retries after the first attempt at most; undefined: as many as the window allows. */
    retryLimit: number | undefined;
    retryDelaySeconds: number;
    retryDelayMaxSeconds: number;
    /** How long a delivery is retried before it becomes a dead letter. */
    retryWindowSeconds: number;
    /** Attempts in flight to one destination at once, per process. */
    concurrencyPerDestination: number;
    /** Failures in a row that open a destination's circuit. */
    circuitThreshold: number;
    /** Destinations on loopback, private or link-local addresses are allowed (development, tests). */
    allowPrivate: boolean;
  };
}

export class SettingsError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
    this.problems = problems;
  }
}

const envSchema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    AURUM_ROLE: { enum: ['api', 'worker', 'all'], default: 'all' },
    AURUM_CONFIG_DIR: { type: 'string', minLength: 1 },
    AURUM_DATA_DIR: { type: 'string', minLength: 1, default: '.aurum' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    AURUM_API_KEYS: { type: 'string' },
    AURUM_MAX_BODY: { type: 'integer', minimum: 1, default: 1_048_576 },
    AURUM_MAX_RECORD_BYTES: { type: 'integer', minimum: 64, default: 1_048_576 },
    AURUM_MAX_JSON_DEPTH: { type: 'integer', minimum: 2, maximum: 1000, default: 64 },
    AURUM_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    AURUM_WEBHOOK_TIMEOUT_MS: { type: 'integer', minimum: 100, default: 30_000 },
    AURUM_MAX_CONNECTIONS: { type: 'integer', minimum: 1, default: 4096 },
    // Checked against libphonenumber's regions below: the pattern alone let XX through.
    AURUM_DEFAULT_REGION: { type: 'string', pattern: '^[A-Z]{2}$' },
    LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    AURUM_INGEST_BATCH_SIZE: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
    AURUM_WORKER_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    AURUM_LINK_TRANSACTION_SIZE: { type: 'integer', minimum: 1, maximum: 5000, default: 100 },
    AURUM_SUPERVISE_INTERVAL: { type: 'integer', minimum: 1, maximum: 3600, default: 10 },
    AURUM_DELIVERY_TIMEOUT_MS: { type: 'integer', minimum: 100, default: 10_000 },
    AURUM_DELIVERY_RETRY_LIMIT: { type: 'integer', minimum: 0 },
    AURUM_DELIVERY_RETRY_WINDOW: { type: 'integer', minimum: 1, default: 86_400 },
    AURUM_DELIVERY_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 64, default: 8 },
    AURUM_DELIVERY_CIRCUIT_THRESHOLD: { type: 'integer', minimum: 1, default: 5 },
    AURUM_ALLOW_PRIVATE_DESTINATIONS: { enum: ['true', 'false'], default: 'false' },
    AURUM_DELIVERY_RETRY_DELAY: { type: 'integer', minimum: 1, default: 5 },
    AURUM_DELIVERY_RETRY_DELAY_MAX: { type: 'integer', minimum: 1, default: 3600 },
  },
} as const;

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true });
const validateEnv = ajv.compile(envSchema);

/** Parses `AURUM_API_KEYS=role:token,role:token`. */
function parseApiKeys(raw: string, problems: string[]): ApiKey[] {
  const keys: ApiKey[] = [];
  const counts = new Map<Role, number>();
  for (const [index, entry] of raw
    .split(',')
    .map((e) => e.trim())
    .entries()) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const role = entry.slice(0, colon) as Role;
    const token = entry.slice(colon + 1);
    if (colon < 1 || !ROLES.includes(role)) {
      problems.push(`AURUM_API_KEYS: entry ${index + 1} must be role:token with role one of ${ROLES.join(', ')}`);
      continue;
    }
    if (token.length < 8) {
      problems.push(`AURUM_API_KEYS: entry ${index + 1} has a token shorter than 8 characters`);
      continue;
    }
    const n = (counts.get(role) ?? 0) + 1;
    counts.set(role, n);
    keys.push({ role, token, name: n === 1 ? `env:${role}` : `env:${role}-${n}` });
  }
  return keys;
}

export interface ParseOptions {
  /**
   * The command serves HTTP, so it needs API keys. Default: unless AURUM_ROLE=worker. Commands that
   * serve nothing (`migrate`, `train`, `keys`) say false.
   */
  serveHttp?: boolean;
}

export function parseSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), options: ParseOptions = {}): Settings {
  // Blank values count as unset, as a shell's `VAR=` usually means "not configured".
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const problems: string[] = [];
  const parsed = input as Record<string, unknown>;
  if (!validateEnv(parsed)) {
    for (const error of validateEnv.errors ?? []) {
      const name = error.instancePath.slice(1) || String(error.params['missingProperty'] ?? '');
      const allowed = error.keyword === 'enum' ? `: ${(error.params['allowedValues'] as unknown[]).join(', ')}` : '';
      problems.push(`${name}: ${error.message ?? 'is invalid'}${allowed} (got ${JSON.stringify(env[name] ?? '')})`);
    }
  }
  const region = parsed['AURUM_DEFAULT_REGION'];
  if (typeof region === 'string' && /^[A-Z]{2}$/.test(region) && !isSupportedCountry(region)) {
    problems.push(
      `AURUM_DEFAULT_REGION: not a region phone numbers are known for; use an ISO 3166 code such as GB, US, DE (got "${region}")`,
    );
  }
  const role = parsed['AURUM_ROLE'] as Settings['role'];
  const apiKeys = parseApiKeys(String(parsed['AURUM_API_KEYS'] ?? ''), problems);
  if ((options.serveHttp ?? role !== 'worker') && apiKeys.length === 0) {
    problems.push('AURUM_API_KEYS: not set; set role:token pairs, e.g. admin:<long random token>');
  }
  if (problems.length > 0) throw new SettingsError(problems);

  return {
    port: parsed['PORT'] as number,
    role,
    configDir: path.resolve(cwd, String(parsed['AURUM_CONFIG_DIR'] ?? '.')),
    dataDir: path.resolve(cwd, String(parsed['AURUM_DATA_DIR'])),
    databaseUrl: parsed['DATABASE_URL'] as string | undefined,
    apiKeys,
    maxBodyBytes: parsed['AURUM_MAX_BODY'] as number,
    maxRecordBytes: parsed['AURUM_MAX_RECORD_BYTES'] as number,
    maxJsonDepth: parsed['AURUM_MAX_JSON_DEPTH'] as number,
    host: parsed['AURUM_HOST'] as string,
    webhookTimeoutMs: parsed['AURUM_WEBHOOK_TIMEOUT_MS'] as number,
    maxConnections: parsed['AURUM_MAX_CONNECTIONS'] as number,
    defaultRegion: parsed['AURUM_DEFAULT_REGION'] as string | undefined,
    logLevel: parsed['LOG_LEVEL'] as string,
    ingestBatchSize: parsed['AURUM_INGEST_BATCH_SIZE'] as number,
    workerConcurrency: parsed['AURUM_WORKER_CONCURRENCY'] as number,
    linkTransactionSize: parsed['AURUM_LINK_TRANSACTION_SIZE'] as number,
    superviseIntervalSeconds: parsed['AURUM_SUPERVISE_INTERVAL'] as number,
    delivery: {
      timeoutMs: parsed['AURUM_DELIVERY_TIMEOUT_MS'] as number,
      retryLimit: parsed['AURUM_DELIVERY_RETRY_LIMIT'] as number | undefined,
      retryDelaySeconds: parsed['AURUM_DELIVERY_RETRY_DELAY'] as number,
      retryDelayMaxSeconds: parsed['AURUM_DELIVERY_RETRY_DELAY_MAX'] as number,
      retryWindowSeconds: parsed['AURUM_DELIVERY_RETRY_WINDOW'] as number,
      concurrencyPerDestination: parsed['AURUM_DELIVERY_CONCURRENCY'] as number,
      circuitThreshold: parsed['AURUM_DELIVERY_CIRCUIT_THRESHOLD'] as number,
      allowPrivate: parsed['AURUM_ALLOW_PRIVATE_DESTINATIONS'] === 'true',
    },
  };
}
