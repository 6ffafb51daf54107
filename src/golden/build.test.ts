import { describe, expect, it } from 'vitest';
import { buildGolden, type Member } from './build.ts';

const member = (over: Partial<Member> & Pick<Member, 'source' | 'recordId' | 'fragment'>): Member => ({
  object: 'record',
  priority: 0,
  sourceUpdatedAt: null,
  observedAt: new Date('2026-01-01T00:00:00Z'),
  mappingFile: `mappings/${over.source}.yaml`,
  mappingHash: 'h',
  ...over,
});

describe('buildGolden', () => {
  it('lets the highest priority win a scalar field, then the latest update', () => {
    const built = buildGolden(
      [
        member({ source: 'crm', recordId: '1', priority: 10, sourceUpdatedAt: new Date('2020-01-01'), fragment: { company: 'Old Co' } }),
        member({
          source: 'shop',
          recordId: '2',
          priority: 0,
          sourceUpdatedAt: new Date('2026-01-01'),
          fragment: { company: 'New Co', nationalId: 'A' },
        }),
        member({ source: 'erp', recordId: '3', priority: 0, sourceUpdatedAt: new Date('2025-01-01'), fragment: { nationalId: 'B' } }),
      ],
      [],
    );
    expect(built.golden.company).toBe('Old Co');
    expect(built.golden.nationalId).toBe('A');
    expect(built.lineage['nationalId']).toMatchObject({ source: 'shop', recordId: '2', candidates: [{ value: 'A' }, { value: 'B' }] });
  });

  it('falls back to the received time when a source gives no update time', () => {
    const built = buildGolden(
      [
        member({ source: 'a', recordId: '1', observedAt: new Date('2026-02-01'), fragment: { company: 'Later' } }),
        member({ source: 'b', recordId: '2', observedAt: new Date('2026-01-01'), fragment: { company: 'Earlier' } }),
      ],
      [],
    );
    expect(built.golden.company).toBe('Later');
  });

  it('keeps a name whole rather than mixing parts from different sources', () => {
    const built = buildGolden(
      [
        member({ source: 'a', recordId: '1', priority: 5, fragment: { name: { full: 'Bob Smith' } } }),
        member({ source: 'b', recordId: '2', fragment: { name: { given: 'Robert', family: 'Smith', full: 'Robert Smith' } } }),
      ],
      [],
    );
    expect(built.golden.name).toEqual({ full: 'Bob Smith' });
  });

  it('unions lists with the primary (best-ranked) value first, each with all its sources', () => {
    const built = buildGolden(
      [
        member({ source: 'low', recordId: '1', fragment: { emails: ['x@example.com', 'shared@example.com'] } }),
        member({
          source: 'high',
          recordId: '2',
          priority: 9,
          fragment: { emails: ['shared@example.com'], addresses: [{ city: 'Leeds', line1: '1 Road' }] },
        }),
        member({ source: 'low', recordId: '3', fragment: { addresses: [{ city: 'LEEDS', line1: '1  road' }] } }),
      ],
      [],
    );
    expect(built.golden.emails).toEqual(['shared@example.com', 'x@example.com']);
    expect(built.golden.addresses).toHaveLength(1);
    expect((built.lineage['emails'] as { sources: unknown[] }[])[0]?.sources).toHaveLength(2);
  });

  it('gives equal records an equal hash whatever their order', () => {
    const a = member({ source: 'a', recordId: '1', fragment: { emails: ['a@x.example'] } });
    const b = member({ source: 'b', recordId: '2', fragment: { company: 'C' } });
    expect(buildGolden([a, b], []).hash).toBe(buildGolden([b, a], []).hash);
  });
});
