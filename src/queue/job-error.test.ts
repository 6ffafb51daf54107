import { describe, expect, it } from 'vitest';
import { ApiError } from '../http/errors.ts';
import { jobFailure } from './job-error.ts';

describe('a failed job keeps no personal data', () => {
  it('keeps a query error’s kind and SQLSTATE, not the query, its parameters or the database’s message', () => {
    const error = Object.assign(new Error('Failed query: insert into record_keys values ($1)\nparams: email:ann@example.com'), {
      name: 'DrizzleQueryError',
      cause: Object.assign(new Error('invalid input syntax for type uuid: "ann@example.com"'), { code: '22P02' }),
    });
    const failure = jobFailure(error);
    expect(failure.name).toBe('DrizzleQueryError');
    expect(failure.code).toBe('22P02');
    expect(failure.message).not.toContain('ann@');
    expect(JSON.stringify({ ...failure, message: failure.message, stack: failure.stack })).not.toContain('ann@');
  });

  it('drops the message of an error the hub did not write (V8 quotes the text it failed to parse)', () => {
    let parseError: unknown;
    try {
      JSON.parse('ann@example.com');
    } catch (e) {
      parseError = e;
    }
    expect(String((parseError as Error).message)).toContain('ann@');
    expect(jobFailure(parseError).message).toBe('SyntaxError');
  });

  it('keeps the message of the hub’s own errors, which carry ids and codes only', () => {
    const failure = jobFailure(new ApiError('destination_not_found', 'there is no destination 42'));
    expect(failure).toMatchObject({ name: 'ApiError', message: 'there is no destination 42' });
  });
});
