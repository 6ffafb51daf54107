import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { hubOf, reach } from './hub-client.ts';
import { progressBar } from './progress.ts';

export interface ImportOptions {
  source: string;
  url?: string;
  key?: string;
  format?: string;
  wait?: boolean;
  progress?: boolean;
}

interface ImportView {
  id: string;
  status: string;
  accepted: number;
  duplicates: number;
  rejected: number;
  quarantined: number;
  processed: number;
  progress: number;
}

/**
 * `aurum import --source S FILE`: streams a CSV or NDJSON file to a running hub's
 * `POST /sources/:source/import`, with a progress bar of the upload, then of the pipeline.
 */
export async function runImport(file: string, options: ImportOptions): Promise<void> {
  const { base, key } = hubOf(options);
  const format = options.format ?? (/\.csv$/i.test(file) ? 'csv' : /\.(nd)?jsonl?$|\.ndjson$/i.test(file) ? 'ndjson' : undefined);
  if (!format) throw new Error(`cannot tell the format of ${file}: name it .csv or .ndjson, or say --format csv|ndjson`);
  const total = statSync(file).size;
  const bar = progressBar(options.progress ?? true);
  let sent = 0;
  const stream = createReadStream(file);
  stream.on('data', (chunk) => {
    sent += chunk.length;
    bar.update('upload', sent, total);
  });
  const headers = { authorization: `Bearer ${key}`, 'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson' };
  const response = await reach(base, `${base}/sources/${encodeURIComponent(options.source)}/import`, {
    method: 'POST',
    headers,
    body: Readable.toWeb(stream) as ReadableStream<Uint8Array>,
    duplex: 'half',
  } as RequestInit);
  const text = await response.text();
  let answer: ImportView & { error?: { code: string; message: string; details?: ImportView } };
  try {
    answer = JSON.parse(text);
  } catch {
    // Not the hub's JSON: a proxy's page, or a connection cut short. Say what came back.
    bar.stop();
    throw new Error(
      `the hub answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ' with an empty body'}`,
    );
  }
  if (!response.ok) {
    bar.stop();
    throw new Error(`${answer.error?.code ?? response.status}: ${answer.error?.message ?? 'the import failed'}`);
  }
  let view: ImportView = answer;
  if (options.wait ?? true) {
    while (view.progress < 1) {
      bar.update('process', view.processed, view.accepted);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const poll = await reach(base, `${base}/imports/${view.id}`, { headers: { authorization: `Bearer ${key}` } });
      if (!poll.ok) throw new Error(`GET /imports/${view.id} answered ${poll.status}`);
      view = (await poll.json()) as ImportView;
    }
    bar.update('process', view.processed, view.accepted);
  }
  bar.stop();
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
}
