import { answerOf, hubOf, reach } from './hub-client.ts';
import { progressBar } from './progress.ts';

export interface RebuildOptions {
  url?: string;
  key?: string;
  kind?: string[];
  reason?: string;
  wait?: boolean;
  progress?: boolean;
}

interface RebuildView {
  id: string;
  kind: string;
  status: string;
  total: number;
  processed: number;
  progress: number;
  error: string | null;
}

/**
 * `aurum rebuild [--kind keys|golden|mappings|links] [--wait]`: asks a running hub to derive its record
 * keys and golden records again, to map again the records an older version of their mapping made,
 * and (`links`, when asked for) to score its person records again with the model in force (`POST /rebuilds`); with `--wait`, follows each rebuild with a progress bar until it is done,
 * and exits 1 if one failed.
 */
export async function runRebuildCommand(options: RebuildOptions): Promise<void> {
  const { base, key } = hubOf(options);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const body = JSON.stringify({
    kinds: options.kind ?? ['keys', 'golden', 'mappings'],
    ...(options.reason ? { reason: options.reason } : {}),
  });
  const { rebuilds } = await answerOf<{ rebuilds: RebuildView[] }>(
    await reach(base, `${base}/rebuilds`, { method: 'POST', headers, body }),
  );
  const finished: RebuildView[] = [];
  for (let view of rebuilds) {
    if (options.wait) {
      const bar = progressBar(options.progress ?? true);
      while (view.status === 'queued' || view.status === 'running') {
        bar.update(view.kind, view.processed, Math.max(view.total, view.processed));
        await new Promise((resolve) => setTimeout(resolve, 500));
        view = await answerOf<RebuildView>(await reach(base, `${base}/rebuilds/${view.id}`, { headers }));
      }
      bar.update(view.kind, view.processed, Math.max(view.total, view.processed));
      bar.stop();
    }
    finished.push(view);
  }
  process.stdout.write(`${JSON.stringify({ rebuilds: finished }, null, 2)}\n`);
  const failed = finished.filter((r) => r.status === 'failed');
  if (failed.length > 0)
    throw new Error(failed.map((r) => `the ${r.kind} rebuild ${r.id} failed: ${r.error ?? 'no reason given'}`).join('\n'));
}
