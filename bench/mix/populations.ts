/**
 * The people the realistic mix adds to the base mix, per 100 base people: 3 couples, 1.5 pairs of
 * twins, 2 fathers and sons of one name (Jr/Sr), 1 shared mailbox of 3 to 5 people, 6 people with
 * a name in another script and 4 with accents. They are the cases that shared contact points and
 * transliteration make hard; each record's group says which (groups.csv).
 */
import {
  ACCENTED_FAMILY,
  ACCENTED_GIVEN,
  FAMILY_NAMES,
  HOUSEHOLD_GIVEN,
  JUNIOR_GIVEN,
  MOBILES,
  SCRIPTS,
  SHARED_NICKNAME,
  TWIN_NAMES,
} from './names.ts';
import type { Address, Dob, Emitter, Person } from './person.ts';
import type { Random } from './random.ts';

const SYL = ['al', 'bry', 'cas', 'dun', 'el', 'fal', 'gor', 'har', 'ing', 'kem', 'lor', 'mar', 'nel', 'orm', 'pen', 'ram', 'sel', 'tam'];
const STREETS = ['high street', 'station road', 'church lane', 'mill road', 'park avenue', 'victoria road', 'green lane', 'manor way'];
const TOWNS = ['leeds', 'york', 'bristol', 'bath', 'derby', 'hull', 'exeter', 'norwich', 'cardiff', 'dundee', 'oxford', 'preston'];
const PER_100 = { couple: 3, twins: 1.5, juniorSenior: 2, mailbox: 1, script: 6, accented: 4 };

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const ascii = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');

export class Populations {
  readonly #x: Random;
  readonly #emit: Emitter;
  #next: number;

  /** `firstEntity`: the entity id the first added person gets (the base people are numbered from 0). */
  constructor(x: Random, emit: Emitter, firstEntity: number) {
    this.#x = x;
    this.#emit = emit;
    this.#next = firstEntity;
  }

  /** Adds the households and people for `basePeople` base people, kinds interleaved. */
  add(basePeople: number): void {
    const kinds = Object.entries(PER_100) as [keyof typeof PER_100, number][];
    const total = kinds.reduce((n, [, k]) => n + k, 0);
    const units = Math.round((basePeople * total) / 100);
    for (let u = 0; u < units; u++) {
      let r = this.#x.rand() * total;
      let kind = kinds[0]?.[0] ?? 'accented';
      for (const [name, k] of kinds) {
        kind = name;
        r -= k;
        if (r < 0) break;
      }
      this[kind]();
    }
  }

  /** Two partners: one address, often one surname, a household mailbox or landline; their own names and birth dates. */
  couple(): void {
    const x = this.#x;
    const family = this.#surname();
    const address = this.#address();
    const shared = x.chance(0.5) ? { email: `${ascii(family)}.home${x.int(1, 999)}@example.org`, share: 0.7 } : undefined;
    const home = x.chance(0.6) ? this.#landline() : undefined;
    let names: [string, readonly string[]][];
    if (x.chance(0.15)) {
      const [a, b, nickname] = x.pick(SHARED_NICKNAME);
      names = [
        [a, [nickname]],
        [b, [nickname]],
      ];
    } else names = this.#distinct(HOUSEHOLD_GIVEN, 2);
    const first = this.#birth(1945, 2000);
    const second = { y: first.y + x.int(-6, 6), m: x.int(1, 12), d: x.int(1, 28) };
    names.forEach(([given, nicknames], i) => {
      const surname = i === 1 && x.chance(0.3) ? this.#surname() : family;
      this.#emit.person(
        this.#person('couple', given, nicknames, surname, i === 0 ? first : second, address, {
          ...(shared ? { shared } : {}),
          ...(home ? { home } : {}),
        }),
      );
    });
  }

  /** Twins: one birth date, surname, address and family mailbox; given names that are often alike. */
  twins(): void {
    const x = this.#x;
    const family = this.#surname();
    const address = this.#address();
    const dob = this.#birth(1975, 2006);
    const shared = x.chance(0.8) ? { email: `${ascii(family)}.family${x.int(1, 999)}@example.org`, share: 0.8 } : undefined;
    const home = x.chance(0.6) ? this.#landline() : undefined;
    const names: [string, readonly string[]][] = x.chance(0.5)
      ? x.pick(TWIN_NAMES).map((n) => [n, []] as [string, string[]])
      : this.#distinct(HOUSEHOLD_GIVEN, 2);
    for (const [given, nicknames] of names) {
      this.#emit.person(
        this.#person('twin', given, nicknames, family, dob, address, { ...(shared ? { shared } : {}), ...(home ? { home } : {}) }),
      );
    }
  }

  /**
   * A father and son of one name, born decades apart. The son writes Jr (now and then II) in two
   * records of three, the father Sr in one of three; often they share the address and the landline.
   */
  juniorSenior(): void {
    const x = this.#x;
    const [given, nicknames] = x.pick(JUNIOR_GIVEN);
    const family = this.#surname();
    const address = this.#address();
    const home = x.chance(0.5) ? this.#landline() : undefined;
    const father = this.#birth(1928, 1965);
    const son = { y: father.y + x.int(22, 38), m: x.int(1, 12), d: x.int(1, 28) };
    this.#emit.person(
      this.#person('junior-senior', given, nicknames, family, father, address, {
        suffix: { word: 'Sr', written: 0.35 },
        ...(home ? { home } : {}),
      }),
    );
    this.#emit.person(
      this.#person('junior-senior', given, nicknames, family, son, x.chance(0.5) ? address : this.#address(), {
        suffix: { word: x.chance(0.1) ? 'II' : 'Jr', written: 0.65 },
        ...(home && x.chance(0.5) ? { home } : {}),
      }),
    );
  }

  /** Three to five people behind one mailbox: a family's, or a shared house's with several surnames. */
  mailbox(): void {
    const x = this.#x;
    const family = x.chance(0.5) ? this.#surname() : undefined;
    const email = family ? `the${ascii(family)}s${x.int(1, 99)}@example.org` : `info@${x.pick(SYL)}${x.pick(SYL)}-house.example.net`;
    const address = this.#address();
    for (const [given, nicknames] of this.#distinct(HOUSEHOLD_GIVEN, x.int(3, 5))) {
      this.#emit.person(
        this.#person('mailbox', given, nicknames, family ?? this.#surname(), this.#birth(1945, 2005), address, {
          shared: { email, share: 0.75 },
        }),
      );
    }
  }

  /** Someone whose own records (CRM, desk) often carry their name in their script, the shop's in Latin letters. */
  script(): void {
    const x = this.#x;
    const names = x.pick(SCRIPTS);
    const female = x.chance(0.5);
    const given = x.pick(female ? names.female : names.male);
    const familyForms = x.pick(names.families);
    const family = female ? familyForms.female : familyForms.male;
    const [prefix, digits] = MOBILES[names.script];
    const phone = x.chance(0.5) ? `${prefix}${this.#digits(digits)}` : `+4477${this.#digits(8)}`;
    const person = this.#person(`script-${names.script}`, given.latin, [], family.latin, this.#birth(1945, 2004), this.#address(), {
      own: { given: given.own, family: family.own, familyFirst: names.familyFirst },
      phone,
    });
    this.#emit.person(person, 2 + (x.chance(0.3) ? 1 : 0));
  }

  /** Someone whose name has accents or letters English lacks (é, ß, ü, ø, ł): kept or dropped by source. */
  accented(): void {
    const x = this.#x;
    const given = x.pick(ACCENTED_GIVEN);
    const family = x.pick(ACCENTED_FAMILY);
    const person = this.#person('diacritics', given.latin, [], family.latin, this.#birth(1945, 2004), this.#address(), {
      own: { given: given.own, family: family.own, familyFirst: false },
    });
    this.#emit.person(person, 2 + (x.chance(0.3) ? 1 : 0));
  }

  #person(
    group: Person['group'],
    given: string | readonly string[],
    nicknames: readonly string[],
    family: string | readonly string[],
    dob: Dob,
    address: Address,
    more: Partial<Person> = {},
  ): Person {
    const givens = typeof given === 'string' ? [given] : given;
    const families = typeof family === 'string' ? [family] : family;
    // The entity's number keeps one person's address from being another's: common names (Wei
    // Zhang, Ivan Petrov) repeat too often for a random number to tell them apart.
    const entity = this.#next++;
    return {
      entity: String(entity),
      group,
      given: givens,
      family: families,
      nicknames,
      dob,
      email: `${ascii(givens[0] as string)}.${ascii(families[0] as string)}${entity}@example.org`,
      phone: `+4477${this.#digits(8)}`,
      address,
      ...more,
    };
  }

  #distinct<T>(list: readonly T[], n: number): T[] {
    const out: T[] = [];
    while (out.length < n) {
      const item = this.#x.pick(list);
      if (!out.includes(item)) out.push(item);
    }
    return out;
  }

  #surname(): string {
    const x = this.#x;
    return x.chance(0.3) ? x.pick(FAMILY_NAMES) : cap(`${x.pick(SYL)}${x.pick(SYL)}${x.chance(0.5) ? x.pick(SYL) : ''}`);
  }

  #birth(from: number, to: number): Dob {
    return { y: this.#x.int(from, to), m: this.#x.int(1, 12), d: this.#x.int(1, 28) };
  }

  #address(): Address {
    const x = this.#x;
    return {
      street: `${x.int(1, 200)} ${x.pick(STREETS)}`,
      town: x.pick(TOWNS),
      postcode: `${x.pick(['LS', 'YO', 'BS', 'BA', 'DE'])}${x.int(1, 20)} ${x.int(0, 8)}${x.pick([...'ABDEFGHJLNPQRSTUWXYZ'])}${x.pick([...'ABDEFGHJLNPQRSTUWXYZ'])}`,
    };
  }

  #landline(): string {
    return `+44113${this.#x.int(2, 4)}${this.#digits(6)}`;
  }

  #digits(n: number): string {
    return String(Math.floor(this.#x.rand() * 10 ** n)).padStart(n, '0');
  }
}
