import { describe, expect, it } from 'vitest';
import { normaliseAccount } from './account.ts';

const blocked = new Set(['na', 'n/a']);

describe('an account’s invalid values', () => {
  it('are dropped as a person’s are: a domain that is none, a blocked registration id', () => {
    expect(
      normaliseAccount(
        { name: 'Acme', domains: ['acme dot com', 'https://www.Acme.example/about', 'acme_ltd.example'], registrationIds: { vat: 'N/A' } },
        { defaultRegion: 'GB', blocked },
      ),
    ).toEqual({
      ok: true,
      account: { name: 'Acme', domains: ['acme.example'] },
      violations: [
        { field: 'domains', kind: 'domain_invalid', message: 'not a domain or a URL with one', value: 'acme dot com' },
        { field: 'domains', kind: 'domain_invalid', message: 'not a domain or a URL with one', value: 'acme_ltd.example' },
        { field: 'registrationIds', kind: 'blocked_value', message: expect.any(String), value: 'NA' },
      ],
    });
  });

  it('quarantine the account under onInvalid: quarantine, naming each without its value', () => {
    const result = normaliseAccount({ name: 'Acme', domains: ['acme dot com'] }, { defaultRegion: 'GB', onInvalid: 'quarantine' });
    expect(result).toEqual({ ok: false, message: 'domains/0: not a domain or a URL with one' });
  });

  it('quarantine an account left with contact points only: a shared mailbox identifies no company', () => {
    const result = normaliseAccount({ domains: ['acme dot com'], emails: ['info@acme.example'] }, { defaultRegion: 'GB' });
    expect(result).toMatchObject({ ok: false, message: expect.stringContaining('nothing that identifies the record') });
  });
});
