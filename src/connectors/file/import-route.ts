import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { AuthEnv } from '../../access/auth.ts';
import { ApiError } from '../../http/errors.ts';
import { timeCursor } from '../../http/keyset.ts';
import { any, arr, bool, dateTime, describeRoute, int, nullable, num, obj, str, strEnum, uuid } from '../../http/openapi.ts';
import { allow } from '../../http/roles.ts';
import {
  beat,
  createImport,
  finishImport,
  IMPORT_HEARTBEAT_MS,
  type ImportRange,
  listImports,
  loadImport,
  type Staged,
  storeImportBatch,
  type Tally,
} from '../../intake/imports-store.ts';
import { analyzeRawRecords, contentHash } from '../../intake/store.ts';
import { countQuarantinedOfImport } from '../../mapping/quarantine-store.ts';
import type { PipelineContext } from '../../pipeline-context.ts';
import { FILE_BREAKS, type FileFormat, fileRecords, type ImportProblem, problem } from './file-records.ts';

/** Records stored a transaction: one round trip per batch, memory flat however large the file. */
const BATCH = 1000;
/** Problems kept per import; `rejected` counts them all. */
const MAX_PROBLEMS = 20;

const importSchema = obj({
  id: uuid,
  source: str,
  format: strEnum('csv', 'ndjson'),
  status: strEnum('receiving', 'received', 'done', 'failed', 'interrupted'),
  bytes: int,
  accepted: int,
  duplicates: int,
  rejected: int,
  problems: arr(any),
  processed: int,
  quarantined: int,
  quarantinedCapped: bool,
  progress: num,
  createdBy: str,
  createdAt: dateTime,
  finishedAt: nullable(dateTime),
  heartbeatAt: dateTime,
});
describeRoute('POST /sources/:source/import', {
  tag: 'Sources',
  audience: 'ops',
  summary: 'Imports a CSV (header row) or NDJSON file, streamed; no size limit on the file',
  query: { format: { type: 'string', enum: ['csv', 'ndjson'], description: 'instead of Content-Type' } },
  body: { schema: { type: 'string' }, contentType: ['text/csv', 'application/x-ndjson'] },
  responses: { 202: { description: 'the counts and the first problems', schema: importSchema } },
  errors: ['unknown_source', 'invalid_request', 'unsupported_format', 'malformed_body', 'record_too_large', 'json_too_deep'],
});
describeRoute('GET /imports', {
  tag: 'Sources',
  audience: 'ops',
  summary: 'Imports, newest first (20, at most 100)',
  query: {
    source: { type: 'string' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    cursor: { type: 'string', description: 'the `next` of the previous page' },
  },
  responses: { 200: { description: 'imports', schema: obj({ imports: arr(importSchema), next: nullable(str) }) } },
  errors: ['invalid_request'],
});
describeRoute('GET /imports/:id', {
  tag: 'Sources',
  audience: 'ops',
  summary: 'The counts of an import, and how far the pipeline has got',
  responses: { 200: { description: 'the import', schema: importSchema } },
  errors: ['not_found'],
});

function formatOf(contentType: string | undefined, asked: string | undefined): FileFormat {
  const given = asked ?? contentType?.split(';')[0]?.trim().toLowerCase();
  if (given === 'csv' || given === 'text/csv') return 'csv';
  if (given === 'ndjson' || given === 'jsonl' || given === 'application/x-ndjson' || given === 'application/jsonl') return 'ndjson';
  throw new ApiError(
    'unsupported_format',
    'send CSV (Content-Type: text/csv) or NDJSON (Content-Type: application/x-ndjson), or say ?format=csv|ndjson',
  );
}

/**
 * File imports. Who may call: ops and admin (each route's `allow`).
 * - `POST /sources/:source/import`: CSV (header row) or NDJSON, streamed: stored a batch at a time as
 *   it arrives, never held whole, each line or row checked alone. Answers when the body has been
 *   read: `202` with the counts and the first problems, or `400 malformed_body` when the file
 *   stopped being readable (what came before is stored).
 * - `GET /imports/:id`: the counts, and how far the pipeline has got.
 * - `GET /imports?source=&limit=`: the newest first (20, at most 100), the interrupted ones among them.
 */
export function importRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  // Intake keeps the import, mapping the quarantine its records reached: the view is put together here.
  const quarantined = (imp: ImportRange) => countQuarantinedOfImport(db, imp);
  const load = async (id: string) => {
    const view = await loadImport(db, id, quarantined);
    if (!view) throw new ApiError('not_found', `there is no import ${id}`);
    return view;
  };

  return new Hono<AuthEnv>()
    .post('/sources/:source/import', allow('ops'), async (c) => {
      const name = c.req.param('source');
      if (!ctx.workspace().sources.has(name)) throw new ApiError('unknown_source', `there is no source named "${name}"`);
      const format = formatOf(c.req.header('content-type'), c.req.query('format'));
      if (!c.req.raw.body) throw new ApiError('invalid_request', 'the body is empty');
      const id = randomUUID();
      await createImport(db, { id, source: name, format, createdBy: c.get('caller').name });
      const target = { id, source: name };

      const tally: Tally = { bytes: 0, rejected: 0, problems: [] };
      let broke: ImportProblem | undefined;
      const report = (p: ImportProblem) => {
        tally.rejected++;
        if (tally.problems.length < MAX_PROBLEMS) tally.problems.push(p);
        if (FILE_BREAKS.has(p.code)) broke = p;
      };
      const limits = { maxRecordBytes: ctx.settings.maxRecordBytes, maxJsonDepth: ctx.settings.maxJsonDepth };
      const body = Readable.fromWeb(c.req.raw.body as import('node:stream/web').ReadableStream<Uint8Array>);
      // A sender slower than a batch per heartbeat is alive all the same.
      const heartbeat = setInterval(() => {
        beat(db, id).catch((error: unknown) =>
          ctx.log.warn({ import: id, error: { code: (error as { code?: string }).code } }, 'import heartbeat failed'),
        );
      }, IMPORT_HEARTBEAT_MS);
      heartbeat.unref();

      let batch: Staged[] = [];
      /** Set while storing: an error then is the database's, not the body's. */
      let storing = false;
      const flush = async () => {
        const rows = batch;
        batch = [];
        storing = true;
        await storeImportBatch(
          ctx,
          target,
          rows,
          () => tally,
          (line) => report(problem(line, 'processing_failed')),
        );
        storing = false;
      };

      try {
        try {
          for await (const item of fileRecords(body, format, limits, report, (n) => (tally.bytes += n))) {
            batch.push({ ...item, hash: contentHash(item.record) });
            if (batch.length >= BATCH) await flush();
          }
        } catch (error) {
          if (storing) throw error;
          // The body itself failed (the client went away, the connection broke): what came before it is kept.
          report(problem(null, 'body_interrupted'));
          ctx.log.debug({ import: id, error: { code: (error as { code?: string }).code } }, 'import body interrupted');
        }
        await flush();
      } catch (error) {
        await finishImport(db, id, 'failed', tally).catch(() => {});
        throw error;
      } finally {
        clearInterval(heartbeat);
      }
      if (broke) {
        await finishImport(db, id, 'failed', tally);
        const where = broke.line === null ? '' : ` at line ${broke.line}`;
        throw new ApiError(
          'malformed_body',
          `the body stopped being ${format === 'csv' ? 'CSV' : 'NDJSON'}${where} (${broke.code}); the records before it are stored`,
          await load(id),
        );
      }
      await finishImport(db, id, 'received', tally);
      const view = await load(id);
      if (view.accepted >= 100_000) await analyzeRawRecords(db);
      return c.json(view, 202);
    })
    .get('/imports', allow('ops'), async (c) => {
      const source = c.req.query('source');
      const limit = Number(c.req.query('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new ApiError('invalid_request', 'limit is a whole number from 1 to 100');
      const after = timeCursor(c);
      return c.json(
        await listImports(db, { ...(source === undefined ? {} : { source }), limit, ...(after ? { after } : {}) }, quarantined),
      );
    })
    .get('/imports/:id', allow('ops'), async (c) => c.json(await load(c.req.param('id'))));
}
