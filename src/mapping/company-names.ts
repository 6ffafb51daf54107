import providers from 'email-providers/all.json' with { type: 'json' };

/**
 * Legal forms, as they end a company's name once dots are dropped (`S.A.` is `sa`). Stripped so
 * "Acme Ltd", "ACME Limited" and "Acme, Inc." compare as "acme". Kept short and common on purpose:
 * a word that is part of many real names ("group", "holding") is not a legal form and stays.
 */
const LEGAL_FORMS = new Set([
  // English-speaking
  'ltd',
  'limited',
  'inc',
  'incorporated',
  'corp',
  'corporation',
  'co',
  'company',
  'llc',
  'llp',
  'lp',
  'plc',
  'pllc',
  'pty',
  'pte',
  'cic',
  // German, Austrian, Swiss, Dutch, Belgian
  'gmbh',
  'ag',
  'kg',
  'kgaa',
  'ug',
  'ohg',
  'ev',
  'bv',
  'nv',
  'vof',
  'bvba',
  'sprl',
  // French, Spanish, Italian, Portuguese, Latin America
  'sa',
  'sas',
  'sasu',
  'sarl',
  'eurl',
  'sca',
  'sl',
  'slu',
  'srl',
  'spa',
  'snc',
  'sapa',
  'lda',
  'ltda',
  'sa de cv',
  'cv',
  // Nordic, Polish, Czech, Turkish, Japanese
  'ab',
  'as',
  'asa',
  'oy',
  'oyj',
  'aps',
  'hf',
  'sp zoo',
  'sp z oo',
  'sro',
  'kk',
]);
const MULTI_WORD = [...LEGAL_FORMS].filter((f) => f.includes(' ')).sort((a, b) => b.length - a.length);

/**
 * A company name as accounts compare it: lowercased, accents and punctuation off, `&` as `and`,
 * a leading "the" and trailing legal forms removed ("The Acme Company Ltd." is "acme"). A name that
 * is nothing but a legal form keeps it, rather than become empty.
 */
export function companyNameKey(name: string): string {
  const words = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/\./g, '')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words[0] === 'the' && words.length > 1) words.shift();
  for (;;) {
    const text = words.join(' ');
    const multi = MULTI_WORD.find((f) => text.endsWith(` ${f}`));
    if (multi && words.length > multi.split(' ').length) {
      words.splice(words.length - multi.split(' ').length);
      continue;
    }
    const last = words[words.length - 1];
    if (words.length > 1 && last !== undefined && LEGAL_FORMS.has(last)) {
      words.pop();
      // "Acme and Co" leaves a dangling "and".
      if (words.length > 1 && words[words.length - 1] === 'and') words.pop();
      continue;
    }
    return words.join(' ');
  }
}

const FREE_MAIL = new Set<string>(providers as string[]);

/**
 * Free-mail and ISP mailbox domains (gmail.com, outlook.com, yahoo.com and some 8,700 more, from the
 * maintained `email-providers` list): they identify no company, so they never link or name an account.
 */
export const isFreeMailDomain = (domain: string): boolean => FREE_MAIL.has(domain);
