import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
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

const WHY: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the connection closed',
  EHOSTUNREACH: 'no route to the host',
};

/**
 * fetch says only "fetch failed"; what failed is in its `cause`. Names the URL, the reason, and how
 * to point the CLI elsewhere, without the key.
 */
async function reach(base: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code;
    const why = code ? `${code}, ${WHY[code] ?? cause?.message ?? 'network error'}` : (cause?.message ?? (error as Error).message);
    throw new Error(`cannot reach the hub at ${base} (${why}). Is it running (aurum start)? Point to another with --url or AURUM_URL.`);
  }
}

/**
 * `aurum import --source S FILE`: streams a CSV or NDJSON file to a running hub's
 * `POST /sources/:source/import`, with a progress bar of the upload, then of the pipeline.
 */
export async function runImport(file: string, options: ImportOptions): Promise<void> {
  const base = (options.url ?? process.env['AURUM_URL'] ?? `http://localhost:${process.env['PORT'] ?? 3000}`).replace(/\/+$/, '');
  const key = options.key ?? process.env['AURUM_API_KEY'];
  if (!key) throw new Error('give an API key: --key or AURUM_API_KEY');
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
