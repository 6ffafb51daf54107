import type { PgBoss } from 'pg-boss';
import type { Settings } from '../config/settings.ts';
import type { Database } from '../db/database.ts';
import { queueOptions } from './catalog.ts';

export async function startQueues(
  database: Database,
  settings: Settings,
  onError: (e: Error) => void,
  options: { supervise: boolean },
): Promise<PgBoss> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({
    ...database.bossOptions,
    schema: 'pgboss',
    useListenNotify: true,
    supervise: options.supervise,
    superviseIntervalSeconds: settings.superviseIntervalSeconds,
    monitorIntervalSeconds: settings.superviseIntervalSeconds,
    schedule: options.supervise,
    registerInstance: false,
  });
  boss.on('error', onError);
  await boss.start();
  for (const [name, queue] of Object.entries(queueOptions(settings))) {
    const existing = await boss.getQueue(name);
    // A queue's policy is fixed at creation; the rest may be tuned.
    const { policy: _policy, ...tunable } = queue;
    if (existing) await boss.updateQueue(name, tunable);
    else await boss.createQueue(name, queue);
  }
  return boss;
}
