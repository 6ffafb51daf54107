/**
 * `$parseDate` for mappings: the date formats vendors and spreadsheets export, read strictly. A
 * date that does not exist (2023-02-30, month 13) is no date: `Date` would roll it over into
 * March, and a wrong date of birth is worse than none.
 */

/** Each format by the name a mapping gives it in `formats`; without a list, tried in this order. */
export const DATE_FORMATS = ['ISO', 'YYYYMMDD', 'dd-Mon-Y', 'dd-Mon-yy', 'd.m.Y', 'd.m.yy', 'm/d/Y', 'd/m/Y', 'm/d/yy', 'd/m/yy'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Day, month and year as written: a two-digit year is still two digits here. */
type Parts = { day: string; month: string; year: string };
type Reader = (text: string) => Parts | undefined;

// The time of an ISO date-time is checked (a string that merely starts with a date is not one) and
// then dropped: the date is the one written, before any offset is applied.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d|60)(?:[.,]\d+)?)?(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?$/i;

const numeric =
  (pattern: RegExp, order: 'dmy' | 'mdy' | 'ymd'): Reader =>
  (text) => {
    const m = pattern.exec(text);
    if (!m) return undefined;
    const [a = '', b = '', c = ''] = m.slice(1);
    if (order === 'ymd') return { year: a, month: b, day: c };
    return order === 'dmy' ? { day: a, month: b, year: c } : { month: a, day: b, year: c };
  };

const withMonthName =
  (pattern: RegExp): Reader =>
  (text) => {
    const m = pattern.exec(text);
    const month = m ? MONTHS.indexOf((m[2] ?? '').toLowerCase()) + 1 : 0;
    return m && month > 0 ? { day: m[1] ?? '', month: String(month), year: m[3] ?? '' } : undefined;
  };

const READERS: Record<DateFormat, Reader> = {
  ISO: numeric(ISO, 'ymd'),
  YYYYMMDD: numeric(/^(\d{4})(\d{2})(\d{2})$/, 'ymd'),
  'dd-Mon-Y': withMonthName(/^(\d{1,2})-([a-z]{3})-(\d{4})$/i),
  'dd-Mon-yy': withMonthName(/^(\d{1,2})-([a-z]{3})-(\d{2})$/i),
  'd.m.Y': numeric(/^(\d{1,2})\.(\d{1,2})\.(\d{4})$/, 'dmy'),
  'd.m.yy': numeric(/^(\d{1,2})\.(\d{1,2})\.(\d{2})$/, 'dmy'),
  'm/d/Y': numeric(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, 'mdy'),
  'd/m/Y': numeric(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, 'dmy'),
  'm/d/yy': numeric(/^(\d{1,2})\/(\d{1,2})\/(\d{2})$/, 'mdy'),
  'd/m/yy': numeric(/^(\d{1,2})\/(\d{1,2})\/(\d{2})$/, 'dmy'),
};

export const isDateFormat = (name: unknown): name is DateFormat => typeof name === 'string' && Object.hasOwn(READERS, name);

/**
 * A two-digit year is the year ending in those digits within [current year − 95, current year + 5):
 * in 2026, 31 is 1931 and 30 is 2030. Dates of birth are the usual two-digit years; this reads no
 * birth date more than four years into the future and keeps near-future dates (expiries) right.
 */
export function pivotYear(yy: number, now: Date): number {
  const low = now.getUTCFullYear() - 95;
  return low + ((((yy - low) % 100) + 100) % 100);
}

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

function toIsoDate({ day, month, year }: Parts, now: Date): string | undefined {
  const y = year.length === 2 ? pivotYear(Number(year), now) : Number(year);
  const m = Number(month);
  const d = Number(day);
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return undefined;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Thrown for a `formats` argument naming no known format: the mapping is wrong, not the record. */
export class DateFormatError extends Error {
  readonly code = 'date_format_unknown';
}

function formatsOf(formats: unknown): readonly DateFormat[] {
  if (formats === undefined || formats === null) return DATE_FORMATS;
  const list = Array.isArray(formats) ? formats : [formats];
  if (list.length === 0) return DATE_FORMATS;
  for (const name of list) {
    if (!isDateFormat(name)) {
      throw new DateFormatError(`$parseDate: unknown format ${JSON.stringify(name)}; the formats are ${DATE_FORMATS.join(', ')}`);
    }
  }
  return list as DateFormat[];
}

/**
 * The date `value` states, as `YYYY-MM-DD`, trying `formats` (names from DATE_FORMATS) in order,
 * or every format in DATE_FORMATS' order: so 03/04/2020 is 4 March (m/d), and 13/04/2020, which
 * cannot be m/d, is 13 April. Undefined for a blank, unreadable or impossible date. A number is
 * read as its digits (20240305); epoch times are not dates here (`$fromMillis` makes one ISO).
 */
export function parseDate(value: unknown, formats?: unknown, now: Date = new Date()): string | undefined {
  const order = formatsOf(formats);
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (text === '') return undefined;
  for (const format of order) {
    const parts = READERS[format](text);
    const date = parts && toIsoDate(parts, now);
    if (date) return date;
  }
  return undefined;
}
