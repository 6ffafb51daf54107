import type { Job, JobResult, PgBoss, WorkOptions } from 'pg-boss';
import type { Logger } from 'pino';
import { buildApp } from './api/app.ts';
import type { Settings } from './config/settings.ts';
import { hydrate } from './connectors/sync/hydrate.ts';
import { runSync } from './connectors/sync/run.ts';
import { scheduleSyncs } from './connectors/sync/schedule.ts';
import type { Database } from './db/database.ts';
import { runBackfill } from './delivery/backfill.ts';
import { fanout } from './delivery/fanout.ts';
import { deliver } from './delivery/send.ts';
import { refreshJobs } from './golden/refresh.ts';
import { IntakeDispatcher } from './intake/dispatch.ts';
import { safeError } from './log/log.ts';
import { ingest } from './pipeline/ingest-job.ts';
import type { PipelineContext } from './pipeline-context.ts';
import { checkJobData, type PayloadOf, QUEUES, type QueueKey } from './queue/catalog.ts';
import { jobFailure } from './queue/job-error.ts';
import { startQueues } from './queue/queues.ts';
import { rebuildStale, requestRebuilds, runRebuild } from './rebuild/run.ts';
import { ModelCache } from './resolution/live-model.ts';
import { runTraining } from './resolution/train-job.ts';
import { loadWorkspace, type Workspace } from './workspace/workspace.ts';

export interface Hub {
  app: ReturnType<typeof buildApp>;
  ctx: PipelineContext;
  boss: PgBoss;
  /** Re-reads the workspace; keeps the old one and throws ConfigError if the new one is invalid. */
  reloadWorkspace(): void;
  stop(): Promise<void>;
}

export interface HubOptions {
  settings: Settings;
  database: Database;
  workspace: Workspace;
  log: Logger;
  /** Run the pipeline's workers in this process (AURUM_ROLE worker or all). */
  workers: boolean;
  /** How often idle workers look for jobs; LISTEN/NOTIFY wakes them sooner. */
  pollingIntervalSeconds?: number;
}

export async function createHub(options: HubOptions): Promise<Hub> {
  const { settings, database, log } = options;
  let workspace = options.workspace;
  const boss = await startQueues(database, settings, (error) => log.error({ error: safeError(error) }, 'queue error'), {
    supervise: options.workers,
  });
  // Every process dispatches: its own intakes at once, and those of a process that died within a second.
  const ctx: PipelineContext = {
    database,
    boss,
    settings,
    log,
    workspace: () => workspace,
    models: new ModelCache(),
    intakeQueued: () => dispatcher.wake(),
    modelTrained: async (modelId) => {
      await requestRebuilds(ctx, ['links'], `identity model ${modelId} was trained: records linked under earlier models are scored again`);
    },
  };
  const dispatcher = new IntakeDispatcher(ctx);
  dispatcher.start();
  const reloadWorkspace = () => {
    workspace = loadWorkspace(settings.configDir);
    log.info({ sources: workspace.sources.size, mappings: workspace.mappings.length }, 'workspace reloaded');
    if (options.workers) {
      scheduleSyncs(boss, workspace).catch((error: unknown) => log.error({ error: safeError(error) }, 'sync schedules not updated'));
      rebuildStale(ctx).catch((error: unknown) => log.error({ error: safeError(error) }, 'stale derived data not queued for rebuild'));
    }
  };

  /**
   * Every handler sees only jobs whose data matches its queue's schema (src/queue/catalog.ts): one
   * that does not is failed for good with the paths that failed (a retry would not change its data),
   * and the rest of its batch runs. Every handler fails with a PII-free error (pg-boss keeps it in
   * the job's output), and says so in the log.
   */
  const work = <Q extends QueueKey>(queue: Q, workOptions: WorkOptions, handler: (jobs: Job<PayloadOf<Q>>[]) => Promise<unknown>) => {
    const name = QUEUES[queue];
    return boss.work<unknown>(name, { ...workOptions, perJobResults: true }, async (jobs) => {
      const valid: Job<PayloadOf<Q>>[] = [];
      const results: JobResult[] = [];
      for (const job of jobs) {
        const checked = checkJobData(queue, job.data);
        if (checked.ok) valid.push({ ...job, data: checked.data });
        else {
          const failure = jobFailure(checked.error);
          log.warn({ queue: name, job: job.id, error: safeError(failure) }, 'job data does not match its schema; failed for good');
          // deadletter: failed now, whatever retries remain (these queues have no dead letter queue).
          results.push({ id: job.id, status: 'deadletter', output: failure });
        }
      }
      if (valid.length === 0) return results;
      try {
        await handler(valid);
      } catch (error) {
        const failure = jobFailure(error);
        log.warn({ queue: name, jobs: jobs.length, error: safeError(failure) }, 'job failed; pg-boss retries it');
        throw failure;
      }
      return [...results, ...valid.map((job): JobResult => ({ id: job.id, status: 'completed' }))];
    });
  };

  if (options.workers) {
    // With a backlog, a full batch means more is waiting: fetch again at once instead of sleeping.
    // NOTIFY wakes workers for new jobs, but not for retries coming due: keep polling for those.
    const interval = options.pollingIntervalSeconds ?? 2;
    const polling = { pollingIntervalSeconds: interval, notifyPollingIntervalSeconds: interval, burstWhenBatchFull: true };
    // Linking is serialised by the resolution lock, so a few large transactions beat many small
    // ones: up to 32 jobs a batch took incremental arrival from about 1,650 to 2,450 records/s.
    await work('ingest', { ...polling, batchSize: 32, localConcurrency: settings.workerConcurrency }, async (jobs) => {
      const importOf = new Map<number, string>();
      for (const { data } of jobs) {
        if (data.importId) for (const rawId of data.rawIds) importOf.set(rawId, data.importId);
      }
      await ingest(
        ctx,
        jobs.flatMap((j) => j.data.rawIds),
        importOf,
        jobs.flatMap((j) => j.data.intakeIds ?? []),
      );
    });
    await work('golden', { ...polling, batchSize: 20, localConcurrency: 2 }, async (jobs) => {
      await refreshJobs(
        ctx,
        jobs.map((j) => j.data),
      );
    });
    await work('fanout', { ...polling, batchSize: 50, localConcurrency: 1 }, async (jobs) => {
      await fanout(
        ctx,
        jobs.flatMap((j) => j.data.changes),
      );
    });
    await work('sync', { ...polling, batchSize: 1, localConcurrency: 2 }, async ([job]) => {
      if (job) await runSync(ctx, job.data);
    });
    await scheduleSyncs(boss, workspace);
    await work('hydrate', { ...polling, batchSize: 8, localConcurrency: 2 }, async (jobs) => {
      await hydrate(
        ctx,
        jobs.flatMap((j) => j.data.rawIds),
      );
    });
    await work('train', { ...polling, batchSize: 1, localConcurrency: 1 }, async () => {
      await runTraining(ctx);
    });
    // Sends wait on the network, not the CPU: up to 64 at once, at most AURUM_DELIVERY_CONCURRENCY
    // per destination (its pg-boss group: a busy destination's jobs are not fetched). Batches,
    // because pg-boss waits a polling interval between fetches of a single job.
    await work(
      'deliver',
      { ...polling, batchSize: 4, localConcurrency: 16, localGroupConcurrency: settings.delivery.concurrencyPerDestination },
      async (jobs) => {
        const results = await Promise.allSettled(jobs.map((job) => deliver(ctx, job)));
        // A send records its own failures; what lands here is a bug or the database: retry the batch
        // (a delivery already sent is skipped).
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    );
    await work('rebuild', { ...polling, batchSize: 1, localConcurrency: 1 }, async ([job]) => {
      if (job) await runRebuild(ctx, job.data);
    });
    await rebuildStale(ctx);
    await work('backfill', { ...polling, batchSize: 1, localConcurrency: 1 }, async ([job]) => {
      if (job) await runBackfill(ctx, job.data);
    });
  }

  return {
    app: buildApp(ctx, reloadWorkspace),
    ctx,
    boss,
    reloadWorkspace,
    async stop() {
      await dispatcher.stop();
      await boss.stop({ graceful: true, timeout: 10_000, close: true });
    },
  };
}
