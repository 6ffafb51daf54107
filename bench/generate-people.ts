/**
 * Synthetic people with realistic errors, in two sources (a CRM and a shop), with ground truth.
 *
 *   node bench/generate-people.ts --people 50000 --out /tmp/people [--seed 7] [--mix base|realistic]
 *     → /tmp/people/crm.ndjson, /tmp/people/shop.csv, /tmp/people/truth.csv
 *
 * Each person has one to three records. Errors: typos (substitution, deletion, transposition),
 * nicknames, day and month swapped, missing values, moved addresses, shared family emails and
 * phones, surnames with a skewed (Zipf-like) frequency, so that "smith" is common.
 *
 * `--mix realistic` writes the same base people, record for record, and adds (from a random stream
 * of their own, so the base records stay as they are): a support desk (desk.csv: a full name as
 * typed, email, national phone, a date of birth written d/m/Y or dd-Mon-yy) holding some of every
 * kind of person; households (couples, twins, fathers and sons of one name with Jr/Sr written
 * variously, shared mailboxes); names in Cyrillic, Greek, Chinese, Japanese, Korean and Arabic
 * script in one source and Latin letters in another, and names with accents; organisations
 * (crm-accounts.ndjson, desk-organizations.csv, truth-accounts.csv). groups.csv names each person
 * record's kind (bench/mix/populations.ts).
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { addOrganisations } from './mix/organisations.ts';
import { Emitter } from './mix/person.ts';
import { Populations } from './mix/populations.ts';
import { seeded, typoWith } from './mix/random.ts';
import { Sources } from './mix/sources.ts';

const { values } = parseArgs({
  options: {
    people: { type: 'string', default: '10000' },
    out: { type: 'string', default: '/tmp/aurum-people' },
    seed: { type: 'string', default: '7' },
    mix: { type: 'string', default: 'base' },
  },
});
const people = Number(values.people);
if (values.mix !== 'base' && values.mix !== 'realistic') throw new Error(`--mix is base or realistic, not "${values.mix}"`);
mkdirSync(values.out, { recursive: true });

const base = seeded(Number(values.seed));
const { rand, pick, chance } = base;
const typo = typoWith(base);
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const out = new Sources(values.out, values.mix === 'realistic');
// The realistic mix draws from its own stream: the base people's records are the same in both mixes.
const extra = seeded(Number(values.seed) ^ 0x5bd1e995);
const emit = out.realistic ? new Emitter(extra, out) : undefined;

const GIVEN: [string, string[]][] = [
  ['robert', ['bob', 'rob', 'bobby']],
  ['margaret', ['peggy', 'maggie', 'meg']],
  ['william', ['bill', 'will', 'liam']],
  ['elizabeth', ['liz', 'beth', 'betty']],
  ['james', ['jim', 'jimmy']],
  ['katherine', ['kate', 'kathy']],
  ['michael', ['mike', 'mick']],
  ['patricia', ['pat', 'trish']],
  ['richard', ['rick', 'dick']],
  ['jennifer', ['jen', 'jenny']],
  ['thomas', ['tom', 'tommy']],
  ['susan', ['sue', 'susie']],
  ['charles', ['charlie', 'chuck']],
  ['deborah', ['deb', 'debbie']],
  ['anthony', ['tony']],
  ['rebecca', ['becky']],
  ['daniel', ['dan', 'danny']],
  ['samantha', ['sam']],
  ['edward', ['ed', 'ted']],
  ['victoria', ['vicky', 'tori']],
  ['olivia', []],
  ['noah', []],
  ['amelia', []],
  ['oliver', []],
  ['isla', []],
  ['arjun', []],
  ['mei', []],
  ['fatima', []],
  ['mateo', []],
  ['chloe', []],
  ['lucas', []],
  ['zara', []],
  ['hugo', []],
  ['leila', []],
  ['ravi', []],
];
const SYL = [
  'an',
  'ber',
  'cor',
  'dal',
  'en',
  'fer',
  'gan',
  'hol',
  'is',
  'jor',
  'kel',
  'lin',
  'mor',
  'nor',
  'ost',
  'par',
  'quin',
  'ros',
  'sten',
  'tor',
  'ul',
  'van',
  'wes',
  'yar',
  'zel',
];
const COMMON = ['smith', 'jones', 'williams', 'brown', 'taylor', 'davies', 'wilson', 'evans', 'thomas', 'johnson'];
const surname = () => (chance(0.25) ? pick(COMMON) : `${pick(SYL)}${pick(SYL)}${chance(0.5) ? pick(SYL) : ''}`);
const STREETS = ['high street', 'station road', 'church lane', 'mill road', 'park avenue', 'victoria road', 'green lane', 'manor way'];
const TOWNS = ['leeds', 'york', 'bristol', 'bath', 'derby', 'hull', 'exeter', 'norwich', 'cardiff', 'dundee', 'oxford', 'preston'];

let familyEmail = '';
let familyName = '';
for (let p = 0; p < people; p++) {
  // One in five shares a surname and email with the previous person: a family.
  const family = chance(0.2) && familyEmail !== '';
  const [given, nicks] = pick(GIVEN);
  const last = family ? familyName : surname();
  const dob = { y: 1940 + Math.floor(rand() * 65), m: 1 + Math.floor(rand() * 12), d: 1 + Math.floor(rand() * 28) };
  const email = family ? familyEmail : `${given}.${last}${Math.floor(rand() * 1000)}@example.org`;
  const phone = `+4477${pad(Math.floor(rand() * 1e8), 8)}`;
  const address = {
    street: `${1 + Math.floor(rand() * 200)} ${pick(STREETS)}`,
    town: pick(TOWNS),
    postcode: `${pick(['LS', 'YO', 'BS', 'BA', 'DE'])}${1 + Math.floor(rand() * 20)} ${Math.floor(rand() * 9)}${pick([...'ABDEFGHJLNPQRSTUWXYZ'])}${pick([...'ABDEFGHJLNPQRSTUWXYZ'])}`,
  };
  familyEmail = email;
  familyName = last;
  const copies = 1 + (chance(0.6) ? 1 : 0) + (chance(0.3) ? 1 : 0);
  for (let c = 0; c < copies; c++) {
    const g = c > 0 && nicks.length > 0 && chance(0.3) ? pick(nicks) : c > 0 && chance(0.15) ? typo(given) : given;
    const l = c > 0 && chance(0.15) ? typo(last) : last;
    const swapped = c > 0 && chance(0.1) && dob.d <= 12;
    const birth = `${dob.y}-${pad(swapped ? dob.d : dob.m)}-${pad(swapped ? dob.m : dob.d)}`;
    const moved = c > 0 && chance(0.2);
    const addr = moved
      ? {
          street: `${1 + Math.floor(rand() * 200)} ${pick(STREETS)}`,
          town: pick(TOWNS),
          postcode: `${pick(['NR', 'EX', 'CF'])}${1 + Math.floor(rand() * 20)} 1AA`,
        }
      : address;
    const id = `${p}-${c}`;
    if (c % 2 === 0) {
      out.crm(
        {
          id,
          first_name: g,
          last_name: l,
          email: chance(0.1) ? undefined : email,
          phone: chance(0.3) ? phone : undefined,
          dob: chance(0.1) ? undefined : birth,
          address: addr,
        },
        String(p),
        'base',
      );
    } else {
      out.shop(
        id,
        stringify([
          [
            id,
            `${g} ${l}`,
            chance(0.2) ? '' : email,
            chance(0.5) ? phone : '',
            chance(0.1) ? '' : birth,
            addr.street,
            addr.town,
            addr.postcode,
          ],
        ]).replace(/,/g, ', '),
        String(p),
        'base',
      );
    }
  }
  // A quarter of the base people also wrote to the support desk.
  if (emit && extra.chance(0.25)) {
    emit.desk({ entity: String(p), group: 'base', given: [given], family: [last], nicknames: nicks, dob, email, phone, address });
  }
}
if (emit) {
  new Populations(extra, emit, people).add(people);
  addOrganisations(Math.round(people * 0.04), extra, out);
}
await out.end();
console.error(`${people} base people, ${out.records} person records in ${values.out}`);
