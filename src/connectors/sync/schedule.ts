import type { PgBoss } from 'pg-boss';
import { QUEUES } from '../../queue/catalog.ts';
import type { Workspace } from '../../workspace/workspace.ts';

/**
 * One pg-boss cron schedule per source with a `schedule:`, keyed by the source's name; schedules
 * of sources that no longer have one are removed. Runs at start-up and on workspace reloads.
 */
export async function scheduleSyncs(boss: PgBoss, workspace: Workspace): Promise<void> {
  const wanted = [...workspace.sources.values()].filter((s) => s.schedule);
  for (const source of wanted) {
    await boss.schedule(QUEUES.sync, source.schedule as string, { source: source.name }, { key: source.name, singletonKey: source.name });
  }
  const keep = new Set(wanted.map((s) => s.name));
  for (const schedule of await boss.getSchedules(QUEUES.sync)) {
    if (schedule.key && !keep.has(schedule.key)) await boss.unschedule(QUEUES.sync, schedule.key);
  }
}
