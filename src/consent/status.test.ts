import { describe, expect, it } from 'vitest';
import { currentConsent, qualifies } from './status.ts';

const entry = (purpose: string, status: 'granted' | 'denied', at: string) => ({
  purpose,
  status,
  at: new Date(at),
  source: 's',
  recordId: 'r',
});

describe('currentConsent', () => {
  it('takes the entry with the latest time per purpose, whatever the arrival order', () => {
    const current = currentConsent([
      entry('email', 'denied', '2026-03-01'),
      entry('email', 'granted', '2026-01-01'),
      entry('sms', 'granted', '2026-01-01'),
    ]);
    expect(current.map((c) => [c.purpose, c.status])).toEqual([
      ['email', 'denied'],
      ['sms', 'granted'],
    ]);
  });

  it('lets a denial win at equal times, in either order', () => {
    expect(currentConsent([entry('email', 'granted', '2026-01-01'), entry('email', 'denied', '2026-01-01')])[0]?.status).toBe('denied');
    expect(currentConsent([entry('email', 'denied', '2026-01-01'), entry('email', 'granted', '2026-01-01')])[0]?.status).toBe('denied');
  });
});

describe('qualifies', () => {
  const consent = currentConsent([entry('email', 'granted', '2026-01-01'), entry('sms', 'denied', '2026-01-01')]);
  it('requires every purpose granted; unknown counts as not granted', () => {
    expect(qualifies(consent, [])).toBe(true);
    expect(qualifies(consent, ['email'])).toBe(true);
    expect(qualifies(consent, ['email', 'sms'])).toBe(false);
    expect(qualifies(consent, ['ads'])).toBe(false);
  });
});
