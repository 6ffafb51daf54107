import { describe, expect, it } from 'vitest';
import { capPage } from './page-bytes.ts';

describe('capPage', () => {
  it('stops before the item that would pass the budget, and says so', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ i, text: 'x'.repeat(90) }));
    const { items: kept, truncated } = capPage(items, 350);
    expect(kept.map((k) => k.i)).toEqual([0, 1, 2]);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(kept))).toBeLessThanOrEqual(350);
  });

  it('always keeps the first item, so paging moves on, and leaves a small page whole', () => {
    expect(capPage([{ big: 'x'.repeat(1000) }, { small: 1 }], 100)).toEqual({ items: [{ big: 'x'.repeat(1000) }], truncated: true });
    expect(capPage([{ a: 1 }, { b: 2 }], 100)).toEqual({ items: [{ a: 1 }, { b: 2 }], truncated: false });
  });
});
