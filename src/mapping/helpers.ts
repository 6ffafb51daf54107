/**
 * The functions every mapping expression may call, beside JSONata's own: `$parseDate`, `$phone`,
 * `$email` and `$splitName` (README, "Helpers in mappings"). They return undefined for a value they
 * cannot read, which the profile then lacks, rather than failing the record.
 */
import type jsonata from 'jsonata';
import { type CountryCode, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { DATE_FORMATS, isDateFormat, parseDate } from './parse-date.ts';
import { splitName } from './split-name.ts';

/**
 * A region as a mapping states it (a country column): an ISO 3166 alpha-2 code in any case, UK
 * read as GB (the code the UK's own systems often use). Undefined for anything else.
 */
export function regionOf(value: unknown): CountryCode | undefined {
  if (typeof value !== 'string') return undefined;
  const code = value.trim().toUpperCase();
  const region = code === 'UK' ? 'GB' : code;
  return /^[A-Z]{2}$/.test(region) && isSupportedCountry(region) ? region : undefined;
}

/**
 * A phone number in E.164, or undefined when it is no valid number. A national number is read in
 * `region`, or where that names no region, in the record's (`$region`: the mapping's `region:`,
 * else AURUM_DEFAULT_REGION).
 */
export function phone(value: unknown, region: unknown, recordRegion: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (text === '') return undefined;
  const parsed = parsePhoneNumberFromString(text, regionOf(region) ?? regionOf(recordRegion));
  return parsed?.isValid() ? parsed.number : undefined;
}

// RFC 5322's dot-atom (no quoted local parts, no consecutive or edge dots) at a host name with a
// top-level domain: what mail systems deliver to in practice.
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** A trimmed, lowercased email address, or undefined when it is not a valid one. */
export function email(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const address = value.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  if (at < 1 || address.length > 254) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  return local.length <= 64 && LOCAL.test(local) && DOMAIN.test(domain) ? address : undefined;
}

/** Makes the helpers callable from an expression; mapping-file.ts does it for every one it compiles. */
export function registerHelpers(expression: jsonata.Expression): void {
  expression.registerFunction('parseDate', (value: unknown, formats?: unknown) => parseDate(value, formats));
  expression.registerFunction('phone', function (this: jsonata.Focus, value: unknown, region?: unknown) {
    return phone(value, region, this.environment.lookup('region'));
  });
  expression.registerFunction('email', (value: unknown) => email(value));
  expression.registerFunction('splitName', (full: unknown) => splitName(full));
}

type Node = { type?: string; value?: unknown; procedure?: { type?: string; value?: unknown }; arguments?: Node[]; expressions?: Node[] };

/** The literal strings an argument holds: `"d/m/Y"` or `["d/m/Y", "ISO"]`; none for anything computed. */
function literals(node: Node | undefined): string[] {
  if (node?.type === 'string') return [String(node.value)];
  if (node?.type === 'unary' && node.value === '[')
    return (node.expressions ?? []).flatMap((e) => (e.type === 'string' ? [String(e.value)] : []));
  return [];
}

/**
 * What `aurum validate` can tell without a record: a `$parseDate` format or a `$phone` region
 * written as a literal that names none. Computed arguments are checked when the record is mapped.
 */
export function helperProblems(ast: unknown): string[] {
  const problems: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (!value || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    const node = value as Node;
    if (node.type === 'function' && node.procedure?.type === 'variable') {
      const [, second] = node.arguments ?? [];
      if (node.procedure.value === 'parseDate') {
        for (const name of literals(second)) {
          if (!isDateFormat(name)) problems.push(`$parseDate: unknown format "${name}"; the formats are ${DATE_FORMATS.join(', ')}`);
        }
      }
      if (node.procedure.value === 'phone') {
        for (const name of literals(second)) {
          if (!regionOf(name)) problems.push(`$phone: "${name}" is not a region; use an ISO 3166 code such as GB, US, DE`);
        }
      }
    }
    for (const child of Object.values(value)) visit(child);
  };
  visit(ast);
  return problems;
}
