/**
 * Companies of the realistic mix, 4 per 100 base people, as two sources hold them: the CRM's
 * company records (crm-accounts.ndjson, one or two each) and the support desk's organisations
 * (desk-organizations.csv, seven companies in ten). Their names vary by legal form and case
 * ("Holvan Logistics Ltd" / "HOLVAN LOGISTICS LIMITED"), "&" and "and", "The", accents (Müller /
 * Mueller); domains, phones and addresses are present in some records only. One company in twenty
 * is a namesake of an earlier one in another town: a different company. truth-accounts.csv says
 * which company each record is.
 */
import type { Random } from './random.ts';
import type { Sources } from './sources.ts';

const SYL = ['hol', 'van', 'cor', 'bel', 'mar', 'ton', 'ash', 'ford', 'lin', 'den', 'kir', 'by', 'wes', 'ley', 'tre', 'gar', 'ros', 'well'];
const TRADES = [
  'Logistics',
  'Systems',
  'Foods',
  'Consulting',
  'Engineering',
  'Media',
  'Partners',
  'Holdings',
  'Labs',
  'Motors',
  'Builders',
];
const GERMAN = [
  ['Müller', ['Mueller', 'Muller']],
  ['Schröder', ['Schroeder', 'Schroder']],
  ['Köhler', ['Koehler', 'Kohler']],
  ['Weiß', ['Weiss']],
  ['Bäcker', ['Baecker', 'Backer']],
] as const;
const STREETS = ['business park', 'industrial estate', 'high street', 'market street', 'canal wharf', 'king street'];
const TOWNS: [string, string][] = [
  ['leeds', 'LS'],
  ['york', 'YO'],
  ['bristol', 'BS'],
  ['bath', 'BA'],
  ['derby', 'DE'],
  ['manchester', 'M'],
  ['sheffield', 'S'],
];
const FORMS = {
  Ltd: { crm: ['Ltd', 'Ltd', 'Ltd', 'Ltd.', 'Limited', ''], desk: ['Ltd', 'Limited', 'Limited', 'LTD', 'Ltd.', ''] },
  PLC: { crm: ['PLC', 'plc'], desk: ['PLC', 'plc', ''] },
  LLP: { crm: ['LLP'], desk: ['LLP', 'L.L.P.', ''] },
  GmbH: { crm: ['GmbH'], desk: ['GmbH', 'GMBH', ''] },
};

interface Company {
  entity: string;
  /** The name without its legal form, as the company writes it, and the plain-letter spellings others use. */
  name: string;
  plain: readonly string[];
  form: keyof typeof FORMS;
  domain: string;
  phone: string;
  email: string;
  town: [string, string];
  street: string;
  postcode: string;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function addOrganisations(count: number, x: Random, out: Sources): void {
  const companies: Company[] = [];
  const domains = new Set<string>();
  const names = new Set<string>();
  const draw = (): Pick<Company, 'name' | 'plain' | 'form'> => {
    if (x.chance(0.05)) {
      const [word, spellings] = x.pick(GERMAN);
      const trade = x.pick(['Logistik', 'Technik', 'Maschinenbau', 'Bau', 'Handel']);
      return { name: `${word} ${trade}`, plain: spellings.map((s) => `${s} ${trade}`), form: 'GmbH' };
    }
    const core = cap(`${x.pick(SYL)}${x.pick(SYL)}${x.chance(0.4) ? x.pick(SYL) : ''}`);
    const name = x.chance(0.05) ? `${core} & Sons` : x.chance(0.6) ? `${core} ${x.pick(TRADES)}` : core;
    return { name, plain: [name], form: x.chance(0.8) ? 'Ltd' : x.pick(['PLC', 'LLP'] as const) };
  };
  const digits = (n: number) => String(Math.floor(x.rand() * 10 ** n)).padStart(n, '0');
  for (let k = 0; k < count; k++) {
    const namesake = companies.length > 0 && x.chance(0.05) ? x.pick(companies) : undefined;
    let drawn = namesake ?? draw();
    // Registers keep names apart (Companies House refuses a name taken but for its legal form):
    // two companies of one name are a namesake on purpose, in another town.
    while (!namesake && names.has(drawn.name.toLowerCase())) drawn = draw();
    names.add(drawn.name.toLowerCase());
    const { name, plain, form } = drawn;
    // A namesake is elsewhere: another town, its own domain and phone.
    const town = namesake ? x.pick(TOWNS.filter((t) => t !== namesake.town)) : x.pick(TOWNS);
    // No two companies share a domain: a namesake takes its town's.
    const slug = (plain[0] as string)
      .toLowerCase()
      .replace(/&/g, 'and')
      .replace(/[^a-z]/g, '');
    let domain = `${slug}.example`;
    for (let n = 2; domains.has(domain); n++) domain = `${slug}-${town[0]}${n > 2 ? n : ''}.example`;
    domains.add(domain);
    companies.push({
      entity: `org${k}`,
      name,
      plain,
      form,
      domain,
      phone: x.chance(0.5) ? `+44113${x.int(2, 4)}${digits(6)}` : `+44207${digits(7)}`,
      email: `${x.pick(['info', 'hello', 'accounts'])}@${domain}`,
      town,
      street: `${x.int(1, 300)} ${x.pick(STREETS)}`,
      postcode: `${town[1]}${x.int(1, 20)} ${x.int(0, 8)}${x.pick([...'ABDEFGHJLNPQRSTUWXYZ'])}${x.pick([...'ABDEFGHJLNPQRSTUWXYZ'])}`,
    });
  }
  for (const [k, c] of companies.entries()) {
    const copies = x.chance(0.3) ? 2 : 1;
    for (let n = 0; n < copies; n++) {
      const moved = n > 0 && x.chance(0.2);
      const form = x.pick(FORMS[c.form].crm);
      out.crmAccount(
        {
          id: `org${k}-${n}`,
          company_name: `${x.chance(0.05) ? 'The ' : ''}${n > 0 ? x.pick(c.plain) : c.name}${form ? ` ${form}` : ''}`,
          website: x.chance(0.75) ? x.pick([`https://www.${c.domain}/`, `www.${c.domain}`, `http://${c.domain}`]) : undefined,
          email: x.chance(0.5) ? c.email : undefined,
          phone: x.chance(0.7) ? c.phone : undefined,
          address: moved
            ? { street: `${x.int(1, 300)} ${x.pick(STREETS)}`, town: c.town[0], postcode: `${c.town[1]}${x.int(1, 20)} 1AA` }
            : { street: c.street, town: c.town[0], postcode: c.postcode },
        },
        c.entity,
      );
    }
    if (!x.chance(0.7)) continue;
    const form = x.pick(FORMS[c.form].desk);
    let name = `${x.pick(c.plain)}${form ? ` ${form}` : ''}`;
    if (x.chance(0.5)) name = name.replace(' & ', ' and ');
    if (x.chance(0.25)) name = name.toUpperCase();
    out.deskOrganisation(
      `o${k}`,
      {
        name,
        domain: x.chance(0.5) ? c.domain : '',
        phone: x.chance(0.4) ? `0${c.phone.slice(3, 6)} ${c.phone.slice(6, 9)} ${c.phone.slice(9)}` : '',
        city: x.chance(0.6) ? cap(c.town[0]) : '',
        postcode: x.chance(0.5) ? c.postcode : '',
      },
      c.entity,
    );
  }
}
