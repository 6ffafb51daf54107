import { describe, expect, it } from 'vitest';
import type { PersonFragment } from '../mapping/apply.ts';
import { limitIdentifiers } from './guards.ts';

const fragment = (rawId: number, profile: PersonFragment['profile']): PersonFragment => ({
  entity: 'person',
  rawId,
  source: 'crm',
  object: 'contact',
  recordId: `r${rawId}`,
  contentHash: 'h',
  updatedAt: null,
  observedAt: new Date(0),
  profile,
  mappingFile: 'crm-contact.yaml',
  mappingHash: 'm',
});

describe('limitIdentifiers', () => {
  it('quarantines a record that alone holds more identifiers of a type than a profile may, and keeps the rest', () => {
    const emails = Array.from({ length: 30_000 }, (_, i) => `list.${i}@example.com`);
    const { kept, failures } = limitIdentifiers(
      [
        fragment(1, { emails }),
        fragment(2, { emails: ['a@example.com', 'b@example.com'], phones: ['+447400123456'] }),
        fragment(3, { externalIds: { crm: '1', shop: '2', erp: '3' } }),
      ],
      { uniqueSystems: [], maxPerProfile: { emails: 20, externalIds: 2 } },
    );
    expect(kept.map((f) => f.rawId)).toEqual([2]);
    expect(failures).toEqual([
      expect.objectContaining({ rawId: 1, code: 'too_many_identifiers', mappingFile: 'crm-contact.yaml' }),
      expect.objectContaining({ rawId: 3, code: 'too_many_identifiers' }),
    ]);
    expect(failures[0]?.message).toContain('30000 emails (maxPerProfile.emails is 20)');
    expect(failures[1]?.message).toContain('3 externalIds (maxPerProfile.externalIds is 2)');
    // Counts and limits only: no value of the record.
    expect(failures.map((f) => f.message).join()).not.toContain('@');
  });

  it('lets a record at the limit through, and bounds nothing without a limit', () => {
    const three = { emails: ['a@example.com', 'b@example.com', 'c@example.com'] };
    expect(limitIdentifiers([fragment(1, three)], { uniqueSystems: [], maxPerProfile: { emails: 3 } }).failures).toEqual([]);
    expect(limitIdentifiers([fragment(1, three)], { uniqueSystems: [], maxPerProfile: {} }).kept).toHaveLength(1);
  });
});
