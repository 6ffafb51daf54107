import { describe, expect, it } from 'vitest';
import { pruneBlank } from './normalise-values.ts';

describe('pruneBlank', () => {
  it('drops blanks, nulls and what they leave empty, and trims strings', () => {
    expect(pruneBlank({ a: ' x ', b: '', c: null, d: [null, ' '], e: { f: '' }, g: 0, h: false })).toEqual({ a: 'x', g: 0, h: false });
  });

  it('keeps a key named __proto__ as a key of the copy, never as its prototype', () => {
    const copy = pruneBlank(JSON.parse('{"__proto__": {"polluted": true}, "a": "b"}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
