import { describe, expect, it } from 'vitest';
import { normaliseProfile } from './profile.ts';

const observedAt = new Date('2026-05-01T10:00:00Z');
const receivedAt = new Date('2026-05-01T10:05:00Z');
const normalise = (raw: unknown, region: string | null = 'GB') =>
  normaliseProfile(raw, { defaultRegion: region ?? undefined, observedAt, receivedAt });

describe('normaliseProfile', () => {
  it('trims and lowercases emails and removes duplicates', () => {
    expect(normalise({ emails: [' Ada@Example.COM', 'ada@example.com'] })).toEqual({ ok: true, profile: { emails: ['ada@example.com'] } });
  });

  it('turns phones into E.164, using AURUM_DEFAULT_REGION for national numbers', () => {
    expect(normalise({ phones: ['020 7946 0018', '+1 (415) 555-2671'] })).toMatchObject({
      profile: { phones: ['+442079460018', '+14155552671'] },
    });
  });

  it('rejects a national number when no default region is set, without echoing it', () => {
    const result = normalise({ phones: ['020 7946 0018'] }, null);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('AURUM_DEFAULT_REGION');
    expect(!result.ok && result.message).not.toContain('7946');
  });

  it('treats blank strings and nulls as absent', () => {
    expect(normalise({ name: { given: '  ', family: 'Hopper' }, company: '', emails: [''], nationalId: null })).toEqual({
      ok: true,
      profile: { name: { family: 'Hopper', full: 'Hopper' } },
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
    const result = normalise({ dateOfBirth: '10/12/1815', emails: ['nope'], shoeSize: 9, consent: [{ purpose: 'x', status: 'maybe' }] });
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    for (const part of ['dateOfBirth', 'emails/0', 'shoeSize', 'consent/0/status']) expect(message).toContain(part);
  });

  it('drops a membership whose reference is blank, and refuses a domain that is none, naming it without its value', () => {
    expect(
      normalise({ emails: ['a@b.example'], accounts: [{ ref: { domain: null }, role: 'contact' }, { ref: { name: 'Acme' } }] }),
    ).toEqual({
      ok: true,
      profile: { emails: ['a@b.example'], accounts: [{ ref: { name: 'Acme' } }] },
    });
    expect(normalise({ accounts: [{ ref: { domain: '' } }] })).toEqual({ ok: true, profile: {} });
    const bad = normalise({ accounts: [{ ref: { domain: 'acme dot com' } }] });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toContain('accounts/0/ref/domain');
    expect(!bad.ok && bad.message).not.toContain('acme dot com');
  });
});
