import { describe, expect, it } from 'vitest';
import { normaliseProfile } from './profile.ts';
import type { ValueOptions } from './violations.ts';

const observedAt = new Date('2026-05-01T10:00:00Z');
const receivedAt = new Date('2026-05-01T10:05:00Z');
const normalise = (raw: unknown, region: string | null = 'GB', values: Partial<ValueOptions> = {}) =>
  normaliseProfile(raw, { defaultRegion: region ?? undefined, observedAt, receivedAt, ...values });
const quarantining = { onInvalid: 'quarantine' } as const;

describe('normaliseProfile', () => {
  it('trims and lowercases emails and removes duplicates', () => {
    expect(normalise({ emails: [' Ada@Example.COM', 'ada@example.com'] })).toEqual({
      ok: true,
      profile: { emails: ['ada@example.com'] },
      violations: [],
    });
  });

  it('turns phones into E.164, using AURUM_DEFAULT_REGION for national numbers', () => {
    expect(normalise({ phones: ['020 7946 0018', '+1 (415) 555-2671'] })).toMatchObject({
      profile: { phones: ['+442079460018', '+14155552671'] },
    });
  });

  it('drops a national number when no default region is set, saying why without echoing it', () => {
    const result = normalise({ name: 'Ada Lovelace', phones: ['020 7946 0018'] }, null);
    expect(result).toMatchObject({ ok: true, profile: { name: { full: 'Ada Lovelace' } } });
    const [violation] = result.ok ? result.violations : [];
    expect(violation).toMatchObject({ field: 'phones', kind: 'phone_invalid', value: '020 7946 0018' });
    expect(violation?.message).toContain('AURUM_DEFAULT_REGION');
    expect(violation?.message).not.toContain('7946');
  });

  it('rejects a national number when no default region is set under onInvalid: quarantine, without echoing it', () => {
    const result = normalise({ name: 'Ada Lovelace', phones: ['020 7946 0018'] }, null, quarantining);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('AURUM_DEFAULT_REGION');
    expect(!result.ok && result.message).not.toContain('7946');
  });

  it('drops invalid emails, phones and dates, keeping the rest of the person and each value with its field and kind', () => {
    const result = normalise({
      name: { given: 'Ada', family: 'Lovelace' },
      emails: ['n/a', 'a..b@x.org', 'ada@example.com'],
      phones: ['+1 555 0100', '020 7946 0018'],
      dateOfBirth: '1815-02-30',
      addresses: { city: 'London' },
      accounts: [{ ref: { domain: 'acme dot com' } }, { ref: { name: 'Acme' } }],
    });
    expect(result).toEqual({
      ok: true,
      profile: {
        name: { given: 'Ada', family: 'Lovelace', full: 'Ada Lovelace' },
        emails: ['ada@example.com'],
        phones: ['+442079460018'],
        addresses: [{ city: 'London' }],
        accounts: [{ ref: { name: 'Acme' } }],
      },
      violations: [
        { field: 'emails', kind: 'email_invalid', message: 'not a valid email address', value: 'n/a' },
        { field: 'emails', kind: 'email_invalid', message: 'not a valid email address', value: 'a..b@x.org' },
        { field: 'phones', kind: 'phone_invalid', message: 'not a valid phone number', value: '+1 555 0100' },
        { field: 'dateOfBirth', kind: 'date_invalid', message: expect.any(String), value: '1815-02-30' },
        { field: 'accounts.ref.domain', kind: 'domain_invalid', message: expect.any(String), value: 'acme dot com' },
      ],
    });
  });

  it("drops identity.yaml's blocked values from the fields that hold identifiers, whatever their case", () => {
    const blocked = new Set(['test@example.com', '0000000000', 'unknown']);
    const result = normalise({ name: { given: 'Unknown' }, emails: ['TEST@example.com', 'pat@example.com'], nationalId: 'UNKNOWN' }, 'GB', {
      blocked,
    });
    expect(result).toEqual({
      ok: true,
      profile: { name: { given: 'Unknown', full: 'Unknown' }, emails: ['pat@example.com'] },
      violations: [
        { field: 'emails', kind: 'blocked_value', message: expect.any(String), value: 'test@example.com' },
        { field: 'nationalId', kind: 'blocked_value', message: expect.any(String), value: 'UNKNOWN' },
      ],
    });
    // onInvalid: quarantine keeps them, as before: resolution never links on them.
    expect(normalise({ emails: ['test@example.com'] }, 'GB', { blocked, onInvalid: 'quarantine' })).toEqual({
      ok: true,
      profile: { emails: ['test@example.com'] },
      violations: [],
    });
  });

  it('rejects a record with nothing left to identify it once its invalid values are dropped', () => {
    const result = normalise({ emails: ['nope'], phones: ['12'], dateOfBirth: '1990-01-01', addresses: { city: 'Leeds' } });
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    for (const part of ['emails/0', 'phones/0', 'nothing that identifies']) expect(message).toContain(part);
    expect(message).not.toMatch(/nope|Leeds/);
  });

  it('treats blank strings and nulls as absent', () => {
    expect(normalise({ name: { given: '  ', family: 'Hopper' }, company: '', emails: [''], nationalId: null })).toEqual({
      ok: true,
      profile: { name: { family: 'Hopper', full: 'Hopper' } },
      violations: [],
    });
  });

  it('accepts single values where lists are expected, and numbers as ids', () => {
    expect(normalise({ emails: 'a@b.example', externalIds: { crm: 42 }, addresses: { city: 'Leeds' } })).toMatchObject({
      profile: { emails: ['a@b.example'], externalIds: { crm: '42' }, addresses: [{ city: 'Leeds' }] },
    });
  });

  it('dates consent statements without a time at the record’s observation', () => {
    expect(normalise({ consent: [{ purpose: 'marketing', status: 'granted' }] })).toMatchObject({
      profile: { consent: [{ purpose: 'marketing', status: 'granted', at: '2026-05-01T10:00:00.000Z' }] },
    });
  });

  it('caps a consent time after the record’s receipt at the receipt, keeping the time stated', () => {
    const result = normalise({
      consent: [
        { purpose: 'marketing', status: 'granted', at: '2099-01-01T00:00:00+01:00' },
        { purpose: 'sms', status: 'denied', at: '2026-05-01T10:05:00Z' },
        { purpose: 'email', status: 'granted', at: '2026-04-01T00:00:00Z' },
      ],
    });
    expect(result).toEqual({
      ok: true,
      profile: {
        consent: [
          { purpose: 'marketing', status: 'granted', at: '2026-05-01T10:05:00.000Z', statedAt: '2098-12-31T23:00:00.000Z' },
          { purpose: 'sms', status: 'denied', at: '2026-05-01T10:05:00Z' },
          { purpose: 'email', status: 'granted', at: '2026-04-01T00:00:00Z' },
        ],
      },
      violations: [],
    });
  });

  it('caps a consent statement dated by a future observation time too', () => {
    const result = normaliseProfile(
      { consent: [{ purpose: 'marketing', status: 'granted' }] },
      { defaultRegion: 'GB', observedAt: new Date('2099-06-01T00:00:00Z'), receivedAt },
    );
    expect(result).toMatchObject({
      profile: { consent: [{ at: '2026-05-01T10:05:00.000Z', statedAt: '2099-06-01T00:00:00.000Z' }] },
    });
  });

  it('rejects what breaks the schema, naming each field', () => {
    const raw = { name: 'Ada', dateOfBirth: '10/12/1815', emails: ['nope'], shoeSize: 9, consent: [{ purpose: 'x', status: 'maybe' }] };
    const result = normalise(raw, 'GB', quarantining);
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    for (const part of ['dateOfBirth', 'emails/0', 'shoeSize', 'consent/0/status']) expect(message).toContain(part);
    // Dropping the invalid values leaves the fragment's shape as wrong as it was.
    const dropped = normalise(raw);
    expect(dropped.ok).toBe(false);
    for (const part of ['shoeSize', 'consent/0/status']) expect(!dropped.ok && dropped.message).toContain(part);
  });

  it('rejects an impossible date as well as a malformed one', () => {
    for (const date of ['1815-02-30', '1815-13-01', '2023-02-29', '10/12/1815']) {
      expect(normalise({ name: 'Ada', dateOfBirth: date }, 'GB', quarantining), date).toMatchObject({ ok: false });
    }
    expect(normalise({ name: 'Ada', dateOfBirth: '2024-02-29' }, 'GB', quarantining)).toMatchObject({ ok: true });
  });

  it('drops a membership whose reference is blank, and refuses a domain that is none, naming it without its value', () => {
    expect(
      normalise({ emails: ['a@b.example'], accounts: [{ ref: { domain: null }, role: 'contact' }, { ref: { name: 'Acme' } }] }),
    ).toEqual({
      ok: true,
      profile: { emails: ['a@b.example'], accounts: [{ ref: { name: 'Acme' } }] },
      violations: [],
    });
    expect(normalise({ accounts: [{ ref: { domain: '' } }] })).toEqual({ ok: true, profile: {}, violations: [] });
    const bad = normalise({ name: 'Ada', accounts: [{ ref: { domain: 'acme dot com' } }] }, 'GB', quarantining);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toContain("accounts/0: the membership's ref.domain");
    expect(!bad.ok && bad.message).not.toContain('acme dot com');
  });
});
