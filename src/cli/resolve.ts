import { createReadStream, createWriteStream, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { loadWorkspace } from '../config/workspace.ts';
import { type Fragment, mapRecord } from '../mapping/apply.ts';
import { loadIdentityConfig } from '../resolution/probabilistic/config.ts';
import { engineFor } from '../resolution/probabilistic/engine.ts';
import { progressBar } from './progress.ts';

export interface ResolveOptions {
  config: string;
  input: string[];
  out: string;
  explain?: string;
  progress?: boolean;
}

/** Reads CSV (header row, spaces around unquoted fields trimmed) or NDJSON, record by record. */
async function* readRecords(file: string, onBytes: (bytes: number) => void): AsyncGenerator<Record<string, unknown>> {
  const stream = createReadStream(file);
  stream.on('data', (chunk) => onBytes(chunk.length));
  if (/\.(nd)?jsonl?$/i.test(file) || /\.ndjson$/i.test(file)) {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      if (text.trim() === '') continue;
      try {
        yield JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`${file}:${line}: not valid JSON`);
      }
    }
    return;
  }
  yield* stream.pipe(parse({ columns: true, trim: true, skipEmptyLines: true, relaxColumnCount: true, bom: true }));
}

export async function runResolve(options: ResolveOptions): Promise<void> {
  const workspace = loadWorkspace(path.resolve(options.config));
  const identity = loadIdentityConfig(path.resolve(options.config));
  const engine = engineFor(identity);
  const bar = progressBar(options.progress ?? true);
  const inputs = options.input.map((spec) => {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`--input takes SOURCE=FILE, got "${spec}"`);
    const source = spec.slice(0, eq);
    if (!workspace.sources.has(source)) throw new Error(`--input ${spec}: there is no source "${source}" in ${options.config}/connectors`);
    return { source, file: spec.slice(eq + 1) };
  });

  const fragments: Fragment[] = [];
  let quarantined = 0;
  const totalBytes = inputs.reduce((n, i) => n + statSync(i.file).size, 0);
  let bytes = 0;
  let rawId = 0;
  const receivedAt = new Date();
  for (const { source, file } of inputs) {
    for await (const payload of readRecords(file, (n) => {
      bytes += n;
    })) {
      rawId++;
      const { fragments: made, failures } = await mapRecord(
        { id: rawId, source, receivedAt, contentHash: '', payload },
        workspace.mappings,
        { defaultRegion: process.env['AURUM_DEFAULT_REGION'] || undefined },
      );
      fragments.push(...made);
      for (const f of failures) {
        quarantined++;
        process.stderr.write(`quarantined: ${file} record ${rawId} (${f.mappingFile ?? source}): ${f.code}: ${f.message}\n`);
      }
      if (rawId % 2000 === 0) bar.update('map', bytes, totalBytes);
    }
  }
  bar.update('map', totalBytes, totalBytes);

  const started = performance.now();
  const result = engine.resolve(
    fragments.map((f) => ({ key: `${f.source}/${f.recordId}`, profile: f.profile })),
    (stage, done, total) => bar.update(stage, done, total),
  );
  bar.stop();

  const out = stringify({ header: true, columns: ['source', 'record_id', 'profile_id'] });
  const written = new Promise((resolve, reject) =>
    out
      .pipe(createWriteStream(options.out))
      .on('finish', () => resolve(undefined))
      .on('error', reject),
  );
  for (const [i, f] of fragments.entries()) {
    if (!out.write([f.source, f.recordId, `P${result.cluster[i]}`])) await new Promise((r) => out.once('drain', () => r(undefined)));
  }
  out.end();
  await written;

  const explainFile = options.explain ?? `${options.out}.links.ndjson`;
  const explain = createWriteStream(explainFile);
  for (const link of result.links) {
    const a = fragments[link.a] as Fragment;
    const b = fragments[link.b] as Fragment;
    const line = {
      a: [a.source, a.recordId],
      b: [b.source, b.recordId],
      probability: Number(link.probability.toFixed(6)),
      weight: Number.isFinite(link.weight) ? Number(link.weight.toFixed(3)) : null,
      ...(link.rule ? { rule: link.rule } : { levels: link.levels }),
    };
    if (!explain.write(`${JSON.stringify(line)}\n`)) await new Promise((r) => explain.once('drain', () => r(undefined)));
  }
  await new Promise((resolve) => explain.end(() => resolve(undefined)));

  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `resolved ${fragments.length} records into ${result.stats.clusters} profiles in ${seconds.toFixed(1)} s ` +
      `(${result.stats.candidatePairs} candidate pairs, ${result.stats.patterns} patterns, λ=${result.model.lambda.toFixed(4)}); ` +
      `${quarantined} quarantined; peak memory ${Math.round(process.resourceUsage().maxRSS / 1024)} MB; wrote ${options.out} and ${explainFile}\n`,
  );
}
