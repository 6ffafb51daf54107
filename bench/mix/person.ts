/**
 * A person of the realistic mix and the records the three sources hold of them, with the base
 * mix's errors (nicknames, typos, day and month swapped, missing values, moves) and the ways each
 * source writes a name: the CRM in two fields (a generational suffix in its own field, after the
 * family name, or left out), the shop as one full name (sometimes "Family, Given"), the support
 * desk as one full name as the customer typed it (titles, initials, lower case, their own script).
 */
import type { Random } from './random.ts';
import { typoWith } from './random.ts';
import { csvRow, type Group, type Sources } from './sources.ts';

export interface Dob {
  y: number;
  m: number;
  d: number;
}

export interface Address {
  street: string;
  town: string;
  postcode: string;
}

export interface Person {
  entity: string;
  group: Group;
  /** Spellings in Latin letters, the usual one first; a record uses one of them. */
  given: readonly string[];
  family: readonly string[];
  nicknames: readonly string[];
  /** The name as the person writes it (their script, their accents), which the CRM and desk often keep. */
  own?: { given: string; family: string; familyFirst: boolean };
  suffix?: { word: 'Jr' | 'Sr' | 'II'; written: number };
  dob: Dob;
  email: string;
  /** A mailbox the person shares (a household's, a flat's), used in this share of records. */
  shared?: { email: string; share: number };
  phone?: string;
  /** A landline the household shares. */
  home?: string;
  address: Address;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
export const isoDate = (d: Dob) => `${d.y}-${pad(d.m)}-${pad(d.d)}`;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const SUFFIX_WRITTEN: Record<'Jr' | 'Sr' | 'II', readonly string[]> = {
  Jr: ['Jr', 'Jr.', 'Jnr', 'JR'],
  Sr: ['Sr', 'Sr.', 'Snr', 'SR'],
  II: ['II'],
};

/** The desk writes British numbers as dialled at home: 07712 345678, 0113 234 5678. */
function nationalPhone(e164: string): string {
  if (e164.startsWith('+447')) return `0${e164.slice(3, 7)} ${e164.slice(7)}`;
  if (e164.startsWith('+44')) return `0${e164.slice(3, 6)} ${e164.slice(6, 9)} ${e164.slice(9)}`;
  return e164;
}

export class Emitter {
  readonly #x: Random;
  readonly #out: Sources;
  readonly #typo: (s: string) => string;

  constructor(x: Random, out: Sources) {
    this.#x = x;
    this.#out = out;
    this.#typo = typoWith(x);
  }

  /** The person's records: two or three in the CRM and the shop, and perhaps some at the desk. */
  person(p: Person, copies = 1 + (this.#x.chance(0.75) ? 1 : 0) + (this.#x.chance(0.3) ? 1 : 0)): void {
    const x = this.#x;
    for (let c = 0; c < copies; c++) {
      const id = `${p.entity}-${c}`;
      const dob = x.chance(0.1) ? '' : isoDate(this.#dob(p, c));
      const address = c > 0 && x.chance(0.2) ? this.#moved() : p.address;
      if (c % 2 === 0) {
        const own = p.own !== undefined && c === 0 && x.chance(0.7);
        const { given, family } = own ? (p.own as { given: string; family: string }) : this.#latin(p, c);
        const record: { id: string } & Record<string, unknown> = { id, first_name: given, last_name: family };
        if (p.suffix && x.chance(p.suffix.written)) {
          const word = x.pick(SUFFIX_WRITTEN[p.suffix.word]);
          const style = x.rand();
          if (style < 0.4) record['suffix'] = word;
          else record['last_name'] = `${family}${style < 0.7 ? ' ' : ', '}${word}`;
        }
        Object.assign(record, {
          email: x.chance(0.1) ? undefined : this.#email(p),
          phone: x.chance(0.3) ? p.phone : x.chance(0.3) ? p.home : undefined,
          dob: dob || undefined,
          address,
        });
        this.#out.crm(record, p.entity, p.group);
      } else {
        const full = this.#fullName(p, this.#latin(p, c));
        const phone = x.chance(0.5) ? p.phone : x.chance(0.3) ? p.home : undefined;
        const fields = [id, full, x.chance(0.2) ? '' : this.#email(p), phone ?? '', dob, address.street, address.town, address.postcode];
        this.#out.shop(id, csvRow(fields), p.entity, p.group);
      }
    }
    if (x.chance(0.3)) this.desk(p);
    if (x.chance(0.05)) this.desk(p);
  }

  /**
   * A support ticket's requester: a name as typed, an email, perhaps a phone and, where the agent
   * checked identity, a date of birth, written d/m/Y or dd-Mon-yy.
   */
  desk(p: Person): void {
    const x = this.#x;
    let name: string;
    if (p.own && x.chance(0.5)) {
      const { given, family, familyFirst } = p.own;
      name = familyFirst
        ? `${family}${given}`
        : x.chance(0.4) && p.group === 'script-cyrillic'
          ? `${family} ${given}`
          : `${given} ${family}`;
    } else {
      const latin = this.#latin(p, 1);
      const style = x.rand();
      if (style < 0.05) latin.given = `${latin.given.slice(0, 1)}.`;
      name = this.#fullName(p, latin);
      if (style >= 0.05 && style < 0.2) name = `${x.pick(['Mr', 'Mrs', 'Ms', 'Dr'])} ${name}`;
      else if (style >= 0.2 && style < 0.3) name = name.toLowerCase();
    }
    const dob = this.#dob(p, 1);
    const phone = x.chance(0.6) ? (x.chance(0.7) ? p.phone : p.home) : undefined;
    this.#out.desk(
      {
        name,
        email: x.chance(0.05) ? '' : this.#email(p),
        phone: phone ? nationalPhone(phone) : '',
        dob: x.chance(0.65)
          ? ''
          : x.chance(0.5)
            ? `${x.chance(0.5) ? pad(dob.d) : dob.d}/${x.chance(0.5) ? pad(dob.m) : dob.m}/${dob.y}`
            : `${pad(dob.d)}-${MONTHS[dob.m - 1]}-${pad(dob.y % 100)}`,
        created: `${x.int(1, 28)}/${x.int(1, 12)}/${x.int(2023, 2025)}`,
      },
      p.entity,
      p.group,
    );
  }

  #dob(p: Person, c: number): Dob {
    const swapped = c > 0 && this.#x.chance(0.1) && p.dob.d <= 12;
    return swapped ? { y: p.dob.y, m: p.dob.d, d: p.dob.m } : p.dob;
  }

  #email(p: Person): string {
    return p.shared && this.#x.chance(p.shared.share) ? p.shared.email : p.email;
  }

  /** One of the Latin spellings, with a record's errors (nickname, typo) after the first record. */
  #latin(p: Person, c: number): { given: string; family: string } {
    const x = this.#x;
    const usual = x.pick(p.given);
    const given =
      c > 0 && p.nicknames.length > 0 && x.chance(0.3) ? x.pick(p.nicknames) : c > 0 && x.chance(0.15) ? this.#typo(usual) : usual;
    const family = x.pick(p.family);
    return { given, family: c > 0 && x.chance(0.15) ? this.#typo(family) : family };
  }

  /** "John Smith", "Smith, John", with the suffix if this record writes it. */
  #fullName(p: Person, { given, family }: { given: string; family: string }): string {
    const x = this.#x;
    const familyFirst = x.chance(0.15);
    const name = familyFirst ? `${family}, ${given}` : `${given} ${family}`;
    if (!p.suffix || !x.chance(p.suffix.written)) return name;
    const word = x.pick(SUFFIX_WRITTEN[p.suffix.word]);
    return familyFirst || x.chance(0.7) ? `${name} ${word}` : `${name}, ${word}`;
  }

  /** A new address: the person moved, or gave their work address. */
  #moved(): Address {
    const x = this.#x;
    const letter = () => x.pick([...'ABDEFGHJLNPQRSTUWXYZ']);
    return {
      street: `${x.int(1, 200)} ${x.pick(['high street', 'station road', 'church lane', 'mill road', 'park avenue'])}`,
      town: x.pick(['norwich', 'exeter', 'cardiff']),
      postcode: `${x.pick(['NR', 'EX', 'CF'])}${x.int(1, 20)} ${x.int(0, 8)}${letter()}${letter()}`,
    };
  }
}
