import { describe, expect, it } from 'vitest';
import { DateFormatError, parseDate, pivotYear } from './parse-date.ts';

const now = new Date('2026-06-15T12:00:00Z');
const parse = (value: unknown, formats?: unknown) => parseDate(value, formats, now);

describe('parseDate', () => {
  it('reads every documented format to YYYY-MM-DD', () => {
    expect(parse('2024-03-05')).toBe('2024-03-05');
    expect(parse('20240305')).toBe('2024-03-05');
    expect(parse('05-Mar-2024')).toBe('2024-03-05');
    expect(parse('05-mar-24')).toBe('2024-03-05');
    expect(parse('5.3.2024')).toBe('2024-03-05');
    expect(parse('05.03.24')).toBe('2024-03-05');
    expect(parse('3/5/2024')).toBe('2024-03-05');
    expect(parse('3/5/24')).toBe('2024-03-05');
    expect(parse(' 2024-03-05 ')).toBe('2024-03-05');
  });

  it('keeps the date of an ISO date-time as written, dropping the time and offset', () => {
    expect(parse('2024-03-05T23:30:00-05:00')).toBe('2024-03-05');
    expect(parse('2024-03-05 08:15')).toBe('2024-03-05');
    expect(parse('2024-03-05T08:15:00.123Z')).toBe('2024-03-05');
  });

  it('refuses a string that only starts with a date, or has an impossible time', () => {
    expect(parse('2024-03-05 and more')).toBeUndefined();
    expect(parse('2024-03-05T25:00')).toBeUndefined();
  });

  it('reads an ambiguous slash date as month first, and as day first when the first part is over 12', () => {
    expect(parse('03/04/2020')).toBe('2020-03-04');
    expect(parse('13/04/2020')).toBe('2020-04-13');
    expect(parse('04/31/2020')).toBeUndefined();
  });

  it('tries only the formats given, in their order', () => {
    expect(parse('03/04/2020', ['d/m/Y'])).toBe('2020-04-03');
    expect(parse('03/04/2020', 'd/m/Y')).toBe('2020-04-03');
    expect(parse('2020-04-03', ['d/m/Y'])).toBeUndefined();
    expect(parse('03/04/2020', ['ISO', 'd/m/Y', 'm/d/Y'])).toBe('2020-04-03');
  });

  it('returns undefined for a date that does not exist, without rolling it over', () => {
    expect(parse('2023-02-30')).toBeUndefined();
    expect(parse('2023-13-01')).toBeUndefined();
    expect(parse('29.02.2023')).toBeUndefined();
    expect(parse('31-Apr-2024')).toBeUndefined();
    expect(parse('0000-01-01')).toBeUndefined();
  });

  it('knows leap days', () => {
    expect(parse('2024-02-29')).toBe('2024-02-29');
    expect(parse('2000-02-29')).toBe('2000-02-29');
    expect(parse('1900-02-29')).toBeUndefined();
  });

  it('returns undefined for blanks, non-dates and values of other types', () => {
    for (const value of [undefined, null, '', '  ', 'yesterday', '05-Foo-24', true, { y: 2024 }, 1.5]) {
      expect(parse(value)).toBeUndefined();
    }
  });

  it('reads an integer as its digits, not as an epoch time', () => {
    expect(parse(20240305)).toBe('2024-03-05');
    expect(parse(1709596800)).toBeUndefined();
  });

  it('fails on a format name it does not know: the mapping is wrong, not the record', () => {
    expect(() => parse('2024-03-05', ['Y-m-d'])).toThrow(DateFormatError);
    expect(() => parse('2024-03-05', ['Y-m-d'])).toThrow(/unknown format "Y-m-d"/);
  });
});

describe('two-digit years', () => {
  it('fall within the hundred years from 95 years ago to 4 years ahead', () => {
    expect(pivotYear(31, now)).toBe(1931);
    expect(pivotYear(30, now)).toBe(2030);
    expect(pivotYear(0, now)).toBe(2000);
    expect(pivotYear(99, now)).toBe(1999);
    expect(parse('07-Dec-45')).toBe('1945-12-07');
  });

  it('put no date of birth more than four years into the future', () => {
    for (let yy = 0; yy < 100; yy++) {
      const year = pivotYear(yy, now);
      expect(year).toBeLessThan(2031);
      expect(year).toBeGreaterThanOrEqual(1931);
    }
  });
});
