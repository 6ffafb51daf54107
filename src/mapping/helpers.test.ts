import { describe, expect, it } from 'vitest';
import { mapRecord } from './apply.ts';
import { email, helperProblems, phone, regionOf } from './helpers.ts';
import { type CompiledMapping, compileMapping, type MappingSpec } from './mapping-file.ts';

function compile(spec: Partial<MappingSpec>): { mapping?: CompiledMapping; problems: string[] } {
  const problems: string[] = [];
  const mapping = compileMapping(
    'mappings/t.yaml',
    'hash',
    { source: 'crm', object: 'record', recordId: 'id', ...spec },
    (field, message) => problems.push(`${field}: ${message}`),
  );
  return { ...(mapping ? { mapping } : {}), problems };
}

const receivedAt = new Date('2026-05-01T10:00:00Z');
async function map(spec: Partial<MappingSpec>, payload: unknown, defaultRegion: string | undefined = 'GB') {
  const { mapping, problems } = compile(spec);
  if (!mapping) throw new Error(problems.join('; '));
  return mapRecord({ id: 1, source: 'crm', receivedAt, contentHash: 'h', payload }, [mapping], { defaultRegion });
}

describe('$phone', () => {
  it('returns E.164, reading a national number in the region given', () => {
    expect(phone('020 7946 0018', 'GB', undefined)).toBe('+442079460018');
    expect(phone('030 901820', 'de', undefined)).toBe('+4930901820');
    expect(phone('+1 415 555 2671', undefined, undefined)).toBe('+14155552671');
  });

  it('reads a national number in the record’s region when none is given', () => {
    expect(phone('020 7946 0018', undefined, 'GB')).toBe('+442079460018');
    expect(phone('020 7946 0018', 'Narnia', 'GB')).toBe('+442079460018');
  });

  it('returns undefined for an invalid number, a national one without a region, or a blank', () => {
    expect(phone('12345', 'GB', undefined)).toBeUndefined();
    expect(phone('020 7946 0018', undefined, undefined)).toBeUndefined();
    expect(phone('  ', 'GB', undefined)).toBeUndefined();
    expect(phone(null, 'GB', undefined)).toBeUndefined();
  });
});

describe('$email', () => {
  it('trims and lowercases a valid address', () => {
    expect(email('  Ada.Lovelace+crm@Example.CO.uk ')).toBe('ada.lovelace+crm@example.co.uk');
  });

  it('returns undefined for an address that is not valid', () => {
    for (const value of [
      'a..b@x.org',
      '.a@x.org',
      'a.@x.org',
      'ada.example.com',
      'ada@',
      '@x.org',
      'ada@localhost',
      'a@b@x.org',
      'ada@-x.org',
      'Ada <ada@x.org>',
      '',
      42,
      null,
    ]) {
      expect(email(value), String(value)).toBeUndefined();
    }
  });
});

describe('regionOf', () => {
  it('accepts an ISO 3166 code in any case, and UK as GB', () => {
    expect(regionOf(' gb ')).toBe('GB');
    expect(regionOf('UK')).toBe('GB');
    expect(regionOf('Germany')).toBeUndefined();
    expect(regionOf('ZZ')).toBeUndefined();
  });
});

describe('helpers in mapping expressions', () => {
  it('are callable from every expression of a mapping', async () => {
    const { fragments, failures } = await map(
      {
        recordId: '$email(mail)',
        updatedAt: '$parseDate(changed, ["d/m/Y"])',
        when: '$exists($splitName(full).family)',
        deleted: '$parseDate(closed) < "2000-01-01"',
        profile:
          '{"emails": [$email(mail)], "phones": [$phone(tel, "US")], "dateOfBirth": $parseDate(dob), "name": $splitName(full).{"given": given, "family": family}}',
      },
      {
        mail: ' Ada@Example.com',
        changed: '02/01/2026',
        closed: '1999-12-31',
        tel: '(415) 555-2671',
        dob: '10-Dec-1815',
        full: 'Lovelace, Ada',
      },
    );
    expect(failures).toEqual([]);
    expect(fragments[0]).toMatchObject({
      recordId: 'ada@example.com',
      updatedAt: new Date('2026-01-02T00:00:00Z'),
      deleted: true,
      profile: {
        emails: ['ada@example.com'],
        phones: ['+14155552671'],
        dateOfBirth: '1815-12-10',
        name: { given: 'Ada', family: 'Lovelace', full: 'Ada Lovelace' },
      },
    });
  });

  it('quarantine a record as mapping_error when a computed format name does not exist', async () => {
    const { failures } = await map({ profile: '{"dateOfBirth": $parseDate(dob, fmt)}' }, { id: 1, dob: '2024-03-05', fmt: 'Y-m-d' });
    expect(failures).toMatchObject([{ code: 'mapping_error', message: expect.stringContaining('unknown format "Y-m-d"') }]);
  });

  it('name a literal format or region that does not exist when the mapping is compiled', () => {
    expect(compile({ profile: '{"dateOfBirth": $parseDate(dob, ["d/m/Y", "Y-m-d"]), "phones": [$phone(tel, "XX")]}' }).problems).toEqual([
      'profile: $parseDate: unknown format "Y-m-d"; the formats are ISO, YYYYMMDD, dd-Mon-Y, dd-Mon-yy, d.m.Y, d.m.yy, m/d/Y, d/m/Y, m/d/yy, d/m/yy',
      'profile: $phone: "XX" is not a region; use an ISO 3166 code such as GB, US, DE',
    ]);
    expect(
      helperProblems({ type: 'function', procedure: { type: 'variable', value: 'parseDate' }, arguments: [{}, { type: 'path' }] }),
    ).toEqual([]);
  });
});

describe('a mapping’s region', () => {
  const spec = { region: 'country', profile: '{"phones": [tel], "attributes": {"phone": $phone(tel), "region": $region}}' };

  it('reads the record’s national phone numbers instead of AURUM_DEFAULT_REGION, in $phone too', async () => {
    const { fragments } = await map(spec, { id: 1, country: 'us', tel: '(415) 555-2671' });
    expect(fragments[0]?.profile).toMatchObject({ phones: ['+14155552671'], attributes: { phone: '+14155552671', region: 'US' } });
  });

  it('leaves a record with a blank or unknown country to AURUM_DEFAULT_REGION', async () => {
    for (const country of [null, '', 'Britain']) {
      const { fragments } = await map(spec, { id: 1, country, tel: '020 7946 0018' });
      expect(fragments[0]?.profile).toMatchObject({ phones: ['+442079460018'], attributes: { region: 'GB' } });
    }
  });

  it('reads an account’s phones too', async () => {
    const { fragments } = await map(
      { region: 'country', account: '{"name": name, "phones": [tel]}' },
      { id: 1, name: 'Acme', country: 'US', tel: '(415) 555-2671' },
    );
    expect(fragments[0]?.profile).toMatchObject({ phones: ['+14155552671'] });
  });
});
