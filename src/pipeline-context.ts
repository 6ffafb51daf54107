import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { Settings } from './config/settings.ts';
import type { Database } from './db/database.ts';
import type { ModelCache } from './resolution/live-model.ts';
import type { Workspace } from './workspace/workspace.ts';

/** What every stage's code is handed: the database, the queues, the settings and the live workspace. */
export interface PipelineContext {
  database: Database;
  boss: PgBoss;
  settings: Settings;
  log: Logger;
  /** The workspace in force now; `reloadWorkspace` may swap it after a mapping fix. */
  workspace(): Workspace;
  /** The identity model in force, read from the database and cached briefly. */
  models: ModelCache;
  /** Intakes were written to `intake_outbox`: this process's dispatcher hands them to the ingest queue soon. */
  intakeQueued(): void;
  /** A model was trained and put in force: the records linked under earlier ones are scored again (a links rebuild). */
  modelTrained(modelId: number): Promise<void>;
}
