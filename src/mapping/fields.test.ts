import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAccountGolden, buildGolden } from '../golden/build.ts';
import { valuesOf } from '../resolution/probabilistic/features.ts';
import { tombstoneKeys } from '../resolution/tombstones.ts';
import { normaliseAccount } from './account.ts';
import { comparablePaths, FIELDS, goldenFields, SCHEMA_FILES, schemaOf } from './fields.ts';
import { normaliseProfile } from './profile.ts';

const at = new Date('2026-05-01T10:00:00Z');
/** A person and an account with every field of the registry set, as a mapping might produce them. */
const person = normaliseProfile(
  {
    name: { given: 'Ada', family: 'Lovelace', suffix: 'II' },
    emails: ['Ada@Example.com'],
    phones: ['020 7946 0018'],
    dateOfBirth: '1815-12-10',
    addresses: {
      line1: '12 St James’s Square',
      line2: 'Floor 2',
      city: 'London',
      region: 'Westminster',
      postalCode: 'SW1Y 4JH',
      country: 'GB',
    },
    nationalId: 'QQ123456C',
    externalIds: { crm: 7 },
    company: 'Analytical Engines',
    attributes: { tier: 'gold' },
    consent: [{ purpose: 'marketing', status: 'granted' }],
    accounts: [{ ref: { domain: 'https://www.analytical.example/' }, role: 'founder' }],
  },
  { defaultRegion: 'GB', observedAt: at, receivedAt: at },
);
const account = normaliseAccount(
  {
    name: 'Analytical Engines Ltd',
    domains: ['https://www.analytical.example/about'],
    emails: 'INFO@analytical.example',
    phones: '020 7946 0000',
    addresses: [
      { line1: '12 St James’s Square', line2: 'Floor 1', city: 'London', region: 'Westminster', postalCode: 'SW1Y 4JH', country: 'GB' },
    ],
    externalIds: { erp: 4400 },
    registrationIds: { vat: 'gb 123 4567-89' },
    industry: 'Engines',
    attributes: { size: 12 },
  },
  { defaultRegion: 'GB' },
);

describe('the field registry', () => {
  it('is what profile.schema.json and account.schema.json publish (npm run schemas writes them)', () => {
    for (const [entity, file] of Object.entries(SCHEMA_FILES)) {
      const published = JSON.parse(readFileSync(path.join(import.meta.dirname, file), 'utf8'));
      expect(published, file).toEqual(schemaOf(entity as keyof typeof SCHEMA_FILES));
    }
  });

  it('normalises every field, and the result validates', () => {
    expect(person.ok && Object.keys(person.profile).sort()).toEqual(Object.keys(FIELDS.person).sort());
    expect(account.ok && Object.keys(account.account).sort()).toEqual(Object.keys(FIELDS.account).sort());
    expect(person).toMatchObject({
      profile: {
        name: { full: 'Ada Lovelace' },
        emails: ['ada@example.com'],
        phones: ['+442079460018'],
        externalIds: { crm: '7' },
        consent: [{ purpose: 'marketing', status: 'granted', at: at.toISOString() }],
        accounts: [{ ref: { domain: 'analytical.example' }, role: 'founder' }],
      },
    });
    expect(account).toMatchObject({
      account: { domains: ['analytical.example'], emails: ['info@analytical.example'], registrationIds: { vat: 'GB123456789' } },
    });
  });

  it('gives every comparable path a value to compare', () => {
    for (const [entity, record] of [
      ['person', person.ok && person.profile],
      ['account', account.ok && account.account],
    ] as const) {
      for (const field of comparablePaths(entity)) expect(valuesOf(record || {}, field, new Set()), `${entity} ${field}`).not.toEqual([]);
    }
  });

  it('carries every golden field into the golden record, survived with lineage', () => {
    const member = <F>(fragment: F) => ({
      source: 'crm',
      object: 'contact',
      recordId: '1',
      fragment,
      priority: 0,
      sourceUpdatedAt: null,
      observedAt: at,
      mappingFile: 'm.yaml',
      mappingHash: 'h',
    });
    const golden = buildGolden([member(person.ok ? person.profile : {})], []);
    const accountGolden = buildAccountGolden([member(account.ok ? account.account : {})]);
    expect(Object.keys(golden.golden).sort()).toEqual([...goldenFields('person')].sort());
    expect(Object.keys(accountGolden.golden).sort()).toEqual([...goldenFields('account')].sort());
    for (const field of goldenFields('account').filter((f) => f !== 'sources')) {
      expect(
        Object.keys(accountGolden.lineage).some((l) => l === field || l.startsWith(`${field}.`)),
        field,
      ).toBe(true);
    }
  });

  it('tombstones every identifying field of a person', () => {
    const keys = tombstoneKeys({ source: 'crm', object: 'contact', recordId: '1' }, person.ok ? person.profile : {}, new Set());
    expect(keys).toEqual(['rec:crm/contact/1', 'email:ada@example.com', 'phone:+442079460018', 'ext:crm:7', 'nid:QQ123456C']);
  });
});
