import { expect } from 'vitest';
import { type TestHub, waitFor } from './hub.ts';

export interface Run {
  id: number;
  status: string;
  pages: number;
  records: number;
  requests: number;
  cursorTo: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

export const lastRun = async (t: TestHub, source: string) =>
  (await t.json<{ runs: Run[] }>('GET', `/sources/${source}/runs`)).runs[0] as Run;

/** Asks for a sync through the API and waits for the run to end. */
export async function syncNow(t: TestHub, source: string, body: object = {}): Promise<Run> {
  const response = await t.call('POST', `/sources/${source}/sync`, body);
  expect(response.status).toBe(202);
  const { id } = (await response.json()) as Run;
  await waitFor(async () => !['queued', 'running'].includes((await lastRun(t, source)).status), 30_000);
  const run = await lastRun(t, source);
  expect(run.id).toBe(id);
  return run;
}
