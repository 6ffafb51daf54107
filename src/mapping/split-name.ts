/**
 * `$splitName` for mappings: a full name in one column, as CRMs and spreadsheets keep it, split
 * into the parts the canonical profile compares. Western name order only; names are kept as written
 * (no re-casing), apart from the suffix, which is a code.
 */

export interface SplitName {
  given?: string;
  family?: string;
  /** `jr`, `sr`, `ii`, `iii` or `iv`. */
  suffix?: string;
}

/** Generational suffixes as `$splitName` writes them; identity resolution reads these and a few spellings more. */
export const SUFFIXES: Readonly<Record<string, string>> = { jr: 'jr', jnr: 'jr', sr: 'sr', snr: 'sr', ii: 'ii', iii: 'iii', iv: 'iv' };
const TITLES = new Set(['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'rev', 'sir', 'dame']);
/** Words that start a family name ("van der Berg", "de la Cruz"); the first word of a name is never one. */
const PARTICLES = new Set([
  'van',
  'von',
  'der',
  'den',
  'de',
  'del',
  'della',
  'di',
  'da',
  'das',
  'dos',
  'du',
  'la',
  'le',
  'ter',
  'ten',
  'bin',
  'ibn',
]);

const bare = (word: string) => word.toLowerCase().replace(/[.,]+$/, '');
const suffixOf = (word: string | undefined) => (word === undefined ? undefined : SUFFIXES[bare(word)]);

/** Drops leading titles and one trailing suffix, leaving at least one word. */
function strip(words: string[]): { words: string[]; suffix?: string } {
  let start = 0;
  while (start < words.length - 1 && TITLES.has(bare(words[start] ?? ''))) start++;
  const rest = words.slice(start);
  const suffix = rest.length > 1 ? suffixOf(rest.at(-1)) : undefined;
  return suffix ? { words: rest.slice(0, -1), suffix } : { words: rest };
}

const result = (given: string | undefined, family: string | undefined, suffix: string | undefined): SplitName => ({
  ...(given ? { given } : {}),
  ...(family ? { family } : {}),
  ...(suffix ? { suffix } : {}),
});

/**
 * "John Smith", "Smith, John", "Dr. John A. Smith III", "Maria de la Cruz", "Cher": the family name
 * is the last word with the particles before it, or what precedes a comma; the given name is every
 * word before it, middle names and initials included. Undefined for a blank or non-string value.
 */
export function splitName(full: unknown): SplitName | undefined {
  if (typeof full !== 'string') return undefined;
  const text = full.replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  // "John Smith, Jr." and "Smith, John, Jr.": a part that is only a suffix.
  const last = parts.at(-1);
  const trailing = parts.length > 1 && last !== undefined && !last.includes(' ') ? suffixOf(last) : undefined;
  if (trailing) parts.pop();

  if (parts.length > 1) {
    const [family = '', ...given] = parts;
    const stripped = strip(given.join(' ').split(' '));
    return result(stripped.words.join(' '), family, trailing ?? stripped.suffix);
  }
  const { words, suffix } = strip((parts[0] ?? '').split(' '));
  if (words.length === 1) return result(words[0], undefined, trailing ?? suffix);
  let start = words.length - 1;
  while (start > 1 && PARTICLES.has((words[start - 1] ?? '').toLowerCase())) start--;
  return result(words.slice(0, start).join(' '), words.slice(start).join(' '), trailing ?? suffix);
}
