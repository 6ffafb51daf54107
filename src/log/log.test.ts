import { describe, expect, it } from 'vitest';
import { safeError } from './log.ts';

describe('safeError', () => {
  it('drops the query parameters drizzle puts in its messages', () => {
    const error = Object.assign(new Error('Failed query: insert into x values ($1)\nparams: ada@example.com'), {
      name: 'DrizzleQueryError',
      cause: { code: '23505', message: 'duplicate key value violates unique constraint "x_pkey"' },
    });
    const logged = JSON.stringify(safeError(error));
    expect(logged).not.toContain('ada@example.com');
    expect(safeError(error)).toEqual({
      name: 'DrizzleQueryError',
      code: '23505',
      message: 'duplicate key value violates unique constraint "x_pkey"',
    });
  });
});
