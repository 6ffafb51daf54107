/**
 * The generator's output files: each source's records, and the truth (which entity each record is).
 * The base mix writes crm.ndjson, shop.csv and truth.csv; the realistic mix adds the support desk
 * (desk.csv), the group of every person record (groups.csv), and the organisations
 * (crm-accounts.ndjson, desk-organizations.csv, truth-accounts.csv).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';

/** What kind of person a record is of, for accuracy by kind (bench/resolve.ts). */
export type Group =
  | 'base'
  | 'couple'
  | 'twin'
  | 'junior-senior'
  | 'mailbox'
  | 'diacritics'
  | 'script-cyrillic'
  | 'script-greek'
  | 'script-chinese'
  | 'script-japanese'
  | 'script-korean'
  | 'script-arabic';

export interface DeskRow {
  name: string;
  email: string;
  phone: string;
  dob: string;
  created: string;
}

export interface OrganisationRow {
  name: string;
  domain: string;
  phone: string;
  city: string;
  postcode: string;
}

/** A CSV row with ", " between fields, as the shop writes it; fields quoted only where they must be. */
export function csvRow(fields: readonly string[]): string {
  return `${fields.map((f) => (/[",\n]|^\s|\s$/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(', ')}\n`;
}

export class Sources {
  readonly #files = new Map<string, WriteStream>();
  readonly #dir: string;
  readonly realistic: boolean;
  records = 0;
  #tickets = 0;

  constructor(dir: string, realistic: boolean) {
    this.#dir = dir;
    this.realistic = realistic;
    this.#file('crm.ndjson');
    this.#file('shop.csv').write('customer_id, full_name, email_address, mobile, birthday, street, town, postcode\n');
    this.#file('truth.csv').write('source,record_id,entity_id\n');
    if (!realistic) return;
    this.#file('desk.csv').write(csvRow(['requester_id', 'name', 'email', 'phone', 'dob', 'created_at']));
    this.#file('groups.csv').write('source,record_id,group\n');
    this.#file('crm-accounts.ndjson');
    this.#file('desk-organizations.csv').write(csvRow(['organization_id', 'name', 'domain_names', 'phone', 'city', 'postcode']));
    this.#file('truth-accounts.csv').write('source,record_id,entity_id\n');
  }

  #file(name: string): WriteStream {
    let file = this.#files.get(name);
    if (!file) {
      file = createWriteStream(path.join(this.#dir, name));
      this.#files.set(name, file);
    }
    return file;
  }

  #truth(source: string, id: string, entity: string, group: Group): void {
    this.records++;
    this.#file('truth.csv').write(stringify([[source, id, entity]]));
    if (this.realistic) this.#file('groups.csv').write(stringify([[source, id, group]]));
  }

  crm(record: { id: string } & Record<string, unknown>, entity: string, group: Group): void {
    this.#file('crm.ndjson').write(`${JSON.stringify(record)}\n`);
    this.#truth('crm', record.id, entity, group);
  }

  /** `line` is the row as written, its id first. */
  shop(id: string, line: string, entity: string, group: Group): void {
    this.#file('shop.csv').write(line);
    this.#truth('shop', id, entity, group);
  }

  desk(row: DeskRow, entity: string, group: Group): void {
    const id = `t${++this.#tickets}`;
    this.#file('desk.csv').write(csvRow([id, row.name, row.email, row.phone, row.dob, row.created]));
    this.#truth('desk', id, entity, group);
  }

  crmAccount(record: { id: string } & Record<string, unknown>, entity: string): void {
    this.#file('crm-accounts.ndjson').write(`${JSON.stringify({ type: 'company', ...record })}\n`);
    this.#file('truth-accounts.csv').write(stringify([['crm', record.id, entity]]));
  }

  deskOrganisation(id: string, row: OrganisationRow, entity: string): void {
    this.#file('desk-organizations.csv').write(csvRow([id, row.name, row.domain, row.phone, row.city, row.postcode]));
    this.#file('truth-accounts.csv').write(stringify([['desk', id, entity]]));
  }

  async end(): Promise<void> {
    await Promise.all([...this.#files.values()].map((f) => new Promise((resolve) => f.end(resolve))));
  }
}
