/**
 * Synthetic people with realistic errors, in two sources (a CRM and a shop), with ground truth.
 *
 *   node bench/generate-people.ts --people 50000 --out /tmp/people
 *     → /tmp/people/crm.ndjson, /tmp/people/shop.csv, /tmp/people/truth.csv
 *
 * Each person has one to three records. Errors: typos (substitution, deletion, transposition),
 * nicknames, day and month swapped, missing values, moved addresses, shared family emails and
 * phones, surnames with a skewed (Zipf-like) frequency, so that "smith" is common.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';

const { values } = parseArgs({
  options: {
    people: { type: 'string', default: '10000' },
    out: { type: 'string', default: '/tmp/aurum-people' },
    seed: { type: 'string', default: '7' },
  },
});
const people = Number(values.people);
mkdirSync(values.out, { recursive: true });

let state = Number(values.seed) >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
const chance = (p: number) => rand() < p;

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

function typo(s: string): string {
  if (s.length < 3) return s;
  const i = 1 + Math.floor(rand() * (s.length - 2));
  const kind = rand();
  if (kind < 0.33) return s.slice(0, i) + s.slice(i + 1);
  if (kind < 0.66) return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
  return s.slice(0, i) + pick([...'abcdefghijklmnopqrstuvwxyz']) + s.slice(i + 1);
}
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

const crm = createWriteStream(path.join(values.out, 'crm.ndjson'));
const shop = createWriteStream(path.join(values.out, 'shop.csv'));
const truth = createWriteStream(path.join(values.out, 'truth.csv'));
shop.write('customer_id, full_name, email_address, mobile, birthday, street, town, postcode\n');
truth.write('source,record_id,entity_id\n');
let records = 0;
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
    records++;
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
      crm.write(
        `${JSON.stringify({ id, first_name: g, last_name: l, email: chance(0.1) ? undefined : email, phone: chance(0.3) ? phone : undefined, dob: chance(0.1) ? undefined : birth, address: addr })}\n`,
      );
      truth.write(stringify([['crm', id, String(p)]]));
    } else {
      shop.write(
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
      );
      truth.write(stringify([['shop', id, String(p)]]));
    }
  }
}
crm.end();
shop.end();
truth.end();
console.error(`${people} people, ${records} records in ${values.out}`);
