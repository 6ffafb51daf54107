import path from 'node:path';
import { serveHub } from '../api/serve.ts';
import { type ParseOptions, parseSettings, type Settings, SettingsError } from '../config/settings.ts';
import { ConfigError } from '../config/yaml-file.ts';
import { DataDirLockedError, openDatabase } from '../db/database.ts';
import { createHub } from '../hub.ts';
import { createLogger } from '../log/log.ts';
import { TrainingError, trainModel } from '../resolution/live-model.ts';
import { type LoadOptions, loadWorkspace } from '../workspace/workspace.ts';

/** Expected start-up failures print their message and exit 1; anything else is a bug and throws. */
function fail(error: unknown): never {
  if (error instanceof SettingsError || error instanceof ConfigError || error instanceof DataDirLockedError) {
    console.error(`aurum: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

/** `serveHttp: false` for commands that serve no HTTP: they need no API keys. */
function settingsOrExit(options: ParseOptions = {}): Settings {
  try {
    return parseSettings(process.env, process.cwd(), options);
  } catch (error) {
    return fail(error);
  }
}

export async function runValidate(options: { config?: string }): Promise<void> {
  const dir = path.resolve(options.config ?? process.env['AURUM_CONFIG_DIR'] ?? '.');
  try {
    const workspace = loadWorkspace(dir);
    console.log(`ok: ${workspace.sources.size} sources, ${workspace.mappings.length} mappings in ${dir}`);
  } catch (error) {
    fail(error);
  }
}

export async function runMigrate(): Promise<void> {
  const settings = settingsOrExit({ serveHttp: false });
  const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir }).catch(fail);
  await database.close();
  console.log(`migrations applied (${database.kind})`);
}

/**
 * The workspace and the database the settings name, or exit 1 with the reason. `requireEnv: false`
 * for commands that neither verify webhooks nor pull: the workspace's secrets need not be set.
 */
async function openOrExit(settings: Settings, options: LoadOptions = {}) {
  let workspace: ReturnType<typeof loadWorkspace>;
  try {
    workspace = loadWorkspace(settings.configDir, process.env, options);
  } catch (error) {
    fail(error);
  }
  const database = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir }).catch(fail);
  return { workspace, database };
}

/** `aurum train`: trains the live identity model on the stored records and puts it in force. */
export async function runTrain(): Promise<void> {
  // Training reads stored records and identity.yaml: it serves nothing and verifies nothing.
  const { workspace, database } = await openOrExit(settingsOrExit({ serveHttp: false }), { requireEnv: false });
  try {
    const { summary } = await trainModel(database.db, workspace.identity, 'cli');
    console.log(
      `model ${summary.id} trained on ${summary.sampled} of ${summary.records} records ` +
        `(${summary.candidatePairs} candidate pairs, about ${summary.expectedMatches} matched, λ=${summary.lambda.toExponential(3)}) in ${summary.seconds} s`,
    );
    if (summary.warning) console.error(`aurum: ${summary.warning}`);
  } catch (error) {
    if (!(error instanceof TrainingError)) throw error;
    console.error(`aurum: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await database.close();
  }
}

export async function runStart(): Promise<void> {
  const settings = settingsOrExit();
  const log = createLogger(settings.logLevel);
  const { workspace, database } = await openOrExit(settings);
  const hub = await createHub({ settings, database, workspace, log, workers: settings.role !== 'api' });

  let server: ReturnType<typeof serveHub> | undefined;
  if (settings.role !== 'worker') {
    const limits = { host: settings.host, webhookTimeoutMs: settings.webhookTimeoutMs, maxConnections: settings.maxConnections };
    server = serveHub(
      hub.app,
      settings.port,
      (port) => {
        const url = `http://${urlHost(settings.host)}:${port}`;
        console.log(
          `Aurum is running at ${url} (${database.kind}, role ${settings.role}, ${workspace.sources.size} sources, ${workspace.mappings.length} mappings)`,
        );
        console.log(`Try: curl ${url}/health`);
        console.log(`     npm run demo   # sends the example records, signed, and prints the golden records`);
      },
      limits,
    );
  } else {
    log.info({ database: database.kind }, 'worker started');
  }

  process.on('SIGHUP', () => {
    try {
      hub.reloadWorkspace();
    } catch (error) {
      log.error({ problems: (error as ConfigError).problems }, 'workspace reload failed; keeping the previous one');
    }
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the graceful stop.
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    // Whatever hangs below, the process ends: an orchestrator's SIGTERM must be obeyed.
    setTimeout(() => {
      log.warn('graceful stop took too long; exiting');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    if (server) await closeServer(server);
    await hub.stop();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** How long a graceful stop may take: requests finish (10 s at most), then the queue (10 s). */
const STOP_DEADLINE_MS = 25_000;

/** Stops accepting, lets requests in flight finish for up to 10 s, then closes what remains. */
function closeServer(server: ReturnType<typeof serveHub>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, 10_000);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Keep-alive connections between requests would hold close() open until they time out.
    server.closeIdleConnections();
  });
}

/** How the printed URL names the bound interface: every interface and loopback read as localhost. */
function urlHost(host: string): string {
  if (['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'].includes(host)) return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
