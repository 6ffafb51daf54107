/**
 * Every bad line or row of an imported file is refused alone, with a code and a line number and
 * never a value; the records around it are stored. Through `POST /sources/:source/import`.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/database.ts';
import { ADMIN_KEY, copyWorkspace, startTestHub, type TestHub } from './helpers/hub.ts';

let t: TestHub;
beforeAll(async () => {
  // A record with an invalid value is quarantined whole, and counted so.
  t = await startTestHub({ configDir: copyWorkspace({ onInvalid: 'quarantine' }) });
});
afterAll(() => t?.stop());

interface Problem {
  line: number | null;
  code: string;
  message: string;
  expected?: number;
  got?: number;
}
interface ImportView {
  id: string;
  status: string;
  accepted: number;
  duplicates: number;
  rejected: number;
  problems: Problem[];
  processed: number;
  quarantined: number;
  quarantinedCapped: boolean;
  progress: number;
}

const CSV = 'text/csv';
const NDJSON = 'application/x-ndjson';

/** Sends a body as a stream of chunks, as a client uploading a file does. */
function upload(contentType: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
  const iterator = (Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]()) as
    | AsyncIterator<Uint8Array>
    | Iterator<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
  return t.hub.app.request('/sources/crm/import', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': contentType },
    body,
    duplex: 'half',
  } as RequestInit);
}
const text = (s: string) => [new TextEncoder().encode(s)];
const person = (id: string) => ({ id, first_name: `Given ${id}`, last_name: 'Refusals', email: `${id}@example.com` });
const ndjson = (records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

async function rawOf(id: string) {
  return rowsOf<{ payload: Record<string, unknown>; original_body: Uint8Array | null }>(
    await t.testDb.database.db.execute(sql`
      select payload, original_body from raw_records where source = 'crm' and payload->>'id' = ${id}`),
  );
}

describe('NDJSON lines', () => {
  it('skips a line far longer than AURUM_MAX_RECORD_BYTES without holding it, and stores the lines after it', async () => {
    // 600 MB in one line: readline held it as one string and died (RangeError: Invalid string length).
    const mib = new Uint8Array(1 << 20).fill(0x61);
    async function* body() {
      yield new TextEncoder().encode(`${JSON.stringify(person('long-1'))}\n{"note":"`);
      for (let i = 0; i < 600; i++) yield mib;
      yield new TextEncoder().encode(`"}\n${JSON.stringify(person('long-2'))}\n`);
    }
    const response = await upload(NDJSON, body());
    expect(response.status).toBe(202);
    const view = (await response.json()) as ImportView;
    expect(view).toMatchObject({ status: 'received', accepted: 2, rejected: 1 });
    expect(view.problems).toEqual([{ line: 2, code: 'record_too_large', message: expect.stringContaining('AURUM_MAX_RECORD_BYTES') }]);
    expect(await rawOf('long-2')).toHaveLength(1);
  });

  it('refuses a line nested deeper than AURUM_MAX_JSON_DEPTH alone', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const deepObject = `{"id":"deep-1","x":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`;
    const response = await upload(
      NDJSON,
      text(`${JSON.stringify(person('deep-0'))}\n${deep}\n${deepObject}\n${JSON.stringify(person('deep-2'))}\n`),
    );
    const view = (await response.json()) as ImportView;
    expect(view).toMatchObject({ accepted: 2, rejected: 2 });
    expect(view.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'json_too_deep'],
      [3, 'json_too_deep'],
    ]);
  });

  it('stores a line holding \\u0000 with U+FFFD in its place and its exact bytes kept, in a batch that goes on', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => person(`nul-${i}`));
    const lines = records.map((r) => JSON.stringify(r));
    const nulLine = '{"id":"nul-x","first_name":"Nul\\u0000Byte","email":"nul-x@example.com","nick":"\\ud800"}';
    lines.splice(500, 0, nulLine);
    const response = await upload(NDJSON, text(`${lines.join('\n')}\n`));
    expect(response.status).toBe(202);
    const view = (await response.json()) as ImportView;
    expect(view).toMatchObject({ accepted: 1001, rejected: 0, problems: [] });
    const [raw] = await rawOf('nul-x');
    expect(raw?.payload).toMatchObject({ first_name: 'Nul\uFFFDByte', nick: '\uFFFD' });
    expect(Buffer.from(raw?.original_body ?? []).toString()).toBe(nulLine);
  });
});

describe('CSV rows', () => {
  it('stores every row before an unclosed quote, and says on which line the file broke', async () => {
    const rows = Array.from({ length: 1500 }, (_, i) => `brk-${i},Given${i},brk-${i}@example.com`);
    const csv = `id,first_name,email\n${rows.join('\n')}\nbrk-x,"unclosed,x@example.com\nbrk-y,After,y@example.com\n`;
    const response = await upload(CSV, text(csv));
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string; details: ImportView } };
    expect(error.code).toBe('malformed_body');
    expect(error.message).toContain('line 1502');
    expect(error.details).toMatchObject({ status: 'failed', accepted: 1500 });
    expect(error.details.problems).toEqual([{ line: 1502, code: 'csv_unclosed_quote', message: expect.any(String) }]);
    expect(JSON.stringify(error)).not.toContain('example.com');
  });

  it('refuses rows with more or fewer fields than the header, by line, and stores the rest', async () => {
    const csv = [
      'id,first_name,email',
      'col-1,Ada,col-1@example.com',
      'col-2,Extra,col-2@example.com,surplus',
      'col-3,col-3@example.com',
      '"col-4","Quoted, with a comma",col-4@example.com',
      'col-5,"Closed"junk,col-5@example.com',
      'col-6,Last,col-6@example.com',
    ].join('\r\n');
    const response = await upload(CSV, text(csv));
    expect(response.status).toBe(202);
    const view = (await response.json()) as ImportView;
    expect(view).toMatchObject({ status: 'received', accepted: 3, rejected: 3 });
    expect(view.problems).toEqual([
      { line: 3, code: 'csv_column_count', message: expect.any(String), expected: 3, got: 4 },
      { line: 4, code: 'csv_column_count', message: expect.any(String), expected: 3, got: 2 },
      { line: 6, code: 'csv_malformed_row', message: expect.any(String) },
    ]);
    expect(await rawOf('col-2')).toEqual([]);
    expect((await rawOf('col-4'))[0]?.payload).toEqual({ id: 'col-4', first_name: 'Quoted, with a comma', email: 'col-4@example.com' });
    expect(JSON.stringify(view)).not.toMatch(/example\.com|surplus|Extra/);
  });

  it('stores a row with a NUL in a cell (U+FFFD in place, its bytes kept), and refuses an oversized row alone', async () => {
    const big = 'x'.repeat(1_100_000);
    const csv = `id,first_name,email\ncnul-1,Nul\u0000Cell,cnul-1@example.com\ncnul-2,${big},cnul-2@example.com\ncnul-3,After,cnul-3@example.com\n`;
    const view = (await (await upload(CSV, text(csv))).json()) as ImportView;
    expect(view).toMatchObject({ accepted: 2, rejected: 1 });
    expect(view.problems).toEqual([{ line: 3, code: 'record_too_large', message: expect.any(String) }]);
    const [raw] = await rawOf('cnul-1');
    expect(raw?.payload['first_name']).toBe('Nul\uFFFDCell');
    expect(Buffer.from(raw?.original_body ?? []).toString()).toBe('cnul-1,Nul\u0000Cell,cnul-1@example.com');
  });
});

describe('a record the database refuses', () => {
  it('is found by splitting its batch and listed as processing_failed, with no value or SQL; the other 999 are stored', async () => {
    // A database rule standing for any refusal the checks before it did not foresee; its message
    // quotes the record, as PostgreSQL's own messages quote the values they refuse.
    await t.testDb.database.db.execute(
      sql.raw(`
        create function refuse_poison() returns trigger language plpgsql as $$
        begin
          if new.payload->>'id' = 'poison' then
            raise exception using errcode = '22023', message = 'refused ' || new.payload::text;
          end if;
          return new;
        end $$`),
    );
    await t.testDb.database.db.execute(
      sql.raw('create trigger refuse_poison before insert on raw_records for each row execute function refuse_poison()'),
    );
    try {
      const records = Array.from({ length: 1000 }, (_, i) => person(`iso-${i}`));
      records.splice(700, 1, { ...person('poison'), email: 'poison.person@example.com' });
      const response = await upload(NDJSON, text(ndjson(records)));
      expect(response.status).toBe(202);
      const body = await response.text();
      const view = JSON.parse(body) as ImportView;
      expect(view).toMatchObject({ accepted: 999, rejected: 1 });
      expect(view.problems).toEqual([{ line: 701, code: 'processing_failed', message: expect.any(String) }]);
      expect(body).not.toMatch(/poison\.person|insert into|raw_records/i);
      const [stored] = rowsOf<{ n: string | number }>(
        await t.testDb.database.db.execute(sql`select count(*) as n from raw_records where payload->>'id' like 'iso-%'`),
      );
      expect(Number(stored?.n)).toBe(999);
      const [row] = rowsOf<{ problems: unknown }>(
        await t.testDb.database.db.execute(sql`select problems from imports where id = ${view.id}`),
      );
      expect(JSON.stringify(row?.problems)).not.toContain('poison.person');
    } finally {
      await t.testDb.database.db.execute(sql.raw('drop trigger refuse_poison on raw_records'));
      await t.testDb.database.db.execute(sql.raw('drop function refuse_poison()'));
    }
  });
});

describe('GET /imports/:id', () => {
  it('becomes done once the pipeline has processed every stored record', async () => {
    const response = await upload(NDJSON, text(ndjson([person('done-1'), person('done-2')])));
    const received = (await response.json()) as ImportView;
    expect(received.status).toBe('received');
    await t.settle();
    expect(await t.json<ImportView>('GET', `/imports/${received.id}`)).toMatchObject({ status: 'done', processed: 2, progress: 1 });
    const { imports } = await t.json<{ imports: ImportView[] }>('GET', '/imports?source=crm&limit=100');
    expect(imports.find((i) => i.id === received.id)).toMatchObject({ status: 'done' });
  });

  it('counts open quarantine entries up to a cap, whatever the quarantine holds', async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ ...person(`q-${i}`), email: 'not-an-email' }));
    const view = (await (await upload(NDJSON, text(ndjson(records)))).json()) as ImportView;
    await t.settle();
    expect(await t.json<ImportView>('GET', `/imports/${view.id}`)).toMatchObject({ quarantined: 30, quarantinedCapped: false });
  });
});
