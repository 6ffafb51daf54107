import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { resolveBatch } from '../resolution/probabilistic/batch.ts';
import type { BlockIndex } from '../resolution/probabilistic/block-index.ts';
import { loadIdentityConfig } from '../resolution/probabilistic/config.ts';
import { type Engine, engineFor, type LinkKey } from '../resolution/probabilistic/engine.ts';
import { FeatureTableBuilder } from '../resolution/probabilistic/feature-table.ts';
import { loadWorkspace } from '../workspace/workspace.ts';
import { progressBar } from './progress.ts';
import { type MappedChunk, ResolvePool, unpackChunk } from './resolve-pool.ts';

export interface ResolveOptions {
  config: string;
  input: string[];
  out: string;
  explain?: string;
  blocks?: string;
  progress?: boolean;
  /** Worker threads that map and compare (default: the cores available). */
  threads?: string;
}

/** Records a mapping chunk carries to a thread: large enough that messaging costs little. */
const CHUNK = 1000;

/**
 * Reads CSV (header row, spaces around unquoted fields trimmed) or NDJSON, record by record, with
 * the line each starts on. NDJSON lines are passed on as text: the threads parse them, which keeps
 * this thread free to feed them.
 */
async function* readRecords(file: string, onBytes: (bytes: number) => void): AsyncGenerator<{ record: unknown; line: number }> {
  const stream = createReadStream(file);
  stream.on('data', (chunk) => onBytes(chunk.length));
  if (/\.(nd)?jsonl?$/i.test(file) || /\.ndjson$/i.test(file)) {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      if (text.trim() !== '') yield { record: text, line };
    }
    return;
  }
  const csv = stream.pipe(parse({ columns: true, trim: true, skipEmptyLines: true, relaxColumnCount: true, bom: true, info: true }));
  for await (const { record, info } of csv as AsyncIterable<{ record: Record<string, unknown>; info: { lines: number } }>) {
    yield { record, line: info.lines };
  }
}

export async function runResolve(options: ResolveOptions): Promise<void> {
  const configDir = path.resolve(options.config);
  const workspace = loadWorkspace(configDir, process.env, { requireEnv: false });
  const engine = engineFor(loadIdentityConfig(configDir));
  const bar = progressBar(options.progress ?? true);
  const inputs = options.input.map((spec) => {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`--input takes SOURCE=FILE, got "${spec}"`);
    const source = spec.slice(0, eq);
    if (!workspace.sources.has(source)) throw new Error(`--input ${spec}: there is no source "${source}" in ${options.config}/connectors`);
    return { source, file: spec.slice(eq + 1) };
  });
  const threads = Number(options.threads ?? availableParallelism());
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads takes a whole number of 1 or more, got "${options.threads}"`);
  const pool = new ResolvePool({ threads, configDir, defaultRegion: process.env['AURUM_DEFAULT_REGION'] || undefined });
  try {
    await resolveWith(pool, engine, inputs, options, bar);
  } finally {
    await pool.close();
  }
}

async function resolveWith(
  pool: ResolvePool,
  engine: Engine,
  inputs: { source: string; file: string }[],
  options: ResolveOptions,
  bar: ReturnType<typeof progressBar>,
): Promise<void> {
  const started = performance.now();
  // Records arrive back from the threads in chunks, and are numbered in input order.
  const table = new FeatureTableBuilder(engine.config.comparisons.length);
  const fields = engine.config.comparisons.length;
  const recordIds: string[] = [];
  const sources: string[] = [];
  const linkKeys: LinkKey[][] = [];
  const blocks = engine.blockIndex();
  let quarantined = 0;
  const pending: { file: string; source: string; lines: number[]; chunk: Promise<MappedChunk> }[] = [];
  const absorbNext = async () => {
    const next = pending.shift();
    if (!next) return;
    const chunk = await next.chunk;
    if (chunk.invalidJson !== undefined) throw new Error(`${next.file}:${next.lines[chunk.invalidJson]}: not valid JSON`);
    const first = recordIds.length;
    unpackChunk(chunk, fields, { recordIds, table, blocks, linkKeys });
    for (let r = first; r < recordIds.length; r++) sources.push(next.source);
    for (const f of chunk.failures) {
      quarantined++;
      process.stderr.write(`quarantined: ${next.file} record ${f.rawId} (${f.mappingFile ?? next.source}): ${f.code}: ${f.message}\n`);
    }
  };

  const totalBytes = inputs.reduce((n, i) => n + statSync(i.file).size, 0);
  let bytes = 0;
  let rawId = 0;
  const receivedAt = new Date();
  for (const { source, file } of inputs) {
    let payloads: unknown[] = [];
    let lines: number[] = [];
    const send = () => {
      pending.push({ file, source, lines, chunk: pool.map(source, payloads, rawId - payloads.length + 1, receivedAt) });
      payloads = [];
      lines = [];
    };
    for await (const { record, line } of readRecords(file, (n) => {
      bytes += n;
    })) {
      rawId++;
      payloads.push(record);
      lines.push(line);
      if (payloads.length === CHUNK) {
        send();
        bar.update('map', bytes, totalBytes);
        // Enough chunks in flight to keep every thread busy; no more, so memory stays flat.
        while (pending.length > 2 * pool.threads) await absorbNext();
      }
    }
    if (payloads.length > 0) send();
  }
  while (pending.length > 0) await absorbNext();
  bar.update('map', totalBytes, totalBytes);

  const mapped = performance.now();
  // The blocks are written now: finding the candidate pairs empties the index.
  const blocksFile = options.blocks ?? `${options.out}.blocks.ndjson`;
  const blocksOut = await writeBlocks(blocksFile, engine, blocks, recordIds.length);
  const records = { table: table.build(), linkKeys, blocks };
  const rules = engine.config.blocking.length;
  const result = await resolveBatch(
    engine,
    records,
    {
      compare: (pairs, rulesOf) => {
        bar.update('compare', 0, pairs.length);
        return pool.compare(records.table, pairs, rulesOf, rules).finally(() => bar.update('compare', pairs.length, pairs.length));
      },
      countLevels: (sample) => pool.countLevels(records.table, sample),
    },
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
  for (const [i, recordId] of recordIds.entries()) {
    if (!out.write([sources[i], recordId, `P${result.cluster[i]}`])) await new Promise((r) => out.once('drain', () => r(undefined)));
  }
  out.end();
  await written;

  const explainFile = options.explain ?? `${options.out}.links.ndjson`;
  const explain = createWriteStream(explainFile);
  for (const link of result.links) {
    const line = {
      a: [sources[link.a], recordIds[link.a]],
      b: [sources[link.b], recordIds[link.b]],
      probability: Number(link.probability.toFixed(6)),
      weight: Number.isFinite(link.weight) ? Number(link.weight.toFixed(3)) : null,
      ...(link.rule ? { rule: link.rule } : { levels: link.levels }),
    };
    if (!explain.write(`${JSON.stringify(line)}\n`)) await new Promise((r) => explain.once('drain', () => r(undefined)));
  }
  await new Promise((resolve) => explain.end(() => resolve(undefined)));
  const { candidatePairs, pairsByRule } = result.stats;
  await new Promise((resolve) => blocksOut.end(`${JSON.stringify({ candidatePairs, pairsByRule })}\n`, () => resolve(undefined)));
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `resolved ${recordIds.length} records into ${result.stats.clusters} profiles in ${seconds.toFixed(1)} s (mapping ${((mapped - started) / 1000).toFixed(1)} s, ${pool.threads} threads) ` +
      `(${result.stats.candidatePairs} candidate pairs, ${result.stats.patterns} patterns, λ=${result.model.lambda.toExponential(3)}); ` +
      `${quarantined} quarantined; peak memory ${Math.round(process.resourceUsage().maxRSS / 1024)} MB; wrote ${options.out}, ${explainFile} and ${blocksFile}\n`,
  );
}

/**
 * Writes the blocks that propose pairs, for `aurum evaluate` to measure blocking recall: a header
 * (`{records, maxBlockSize, rules}`), then one line a block, `[rule, row, row…]`, with rows
 * numbered as the clusters file lists the records (from 0). The stream is returned open: the
 * candidate pair counts, known once the pairs are found, end it.
 */
async function writeBlocks(file: string, engine: Engine, blocks: BlockIndex, records: number): Promise<WriteStream> {
  const out = createWriteStream(file);
  const rules = engine.config.blocking.map((rule) => rule.join('+'));
  out.write(`${JSON.stringify({ records, maxBlockSize: engine.config.maxBlockSize, rules })}\n`);
  let text = '';
  for (const { rule, records: rows } of blocks.proposingBlocks()) {
    text += `[${rule},${rows.join(',')}]\n`;
    if (text.length > 1 << 16) {
      if (!out.write(text)) await new Promise((r) => out.once('drain', () => r(undefined)));
      text = '';
    }
  }
  out.write(text);
  return out;
}
