import { describe, expect, it } from 'vitest';
import { KeyListCache, type ResolvedKeys } from './key-list-cache.js';

const resolved = (n: number): ResolvedKeys => ({
  entries: Int32Array.from({ length: n }, (_, i) => i),
  width: 1,
  run: 0,
  complete: true,
});

describe('KeyListCache', () => {
  it('remembers a list once it repeats, and only then', () => {
    const c = new KeyListCache(4);
    const keys = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i));
    c.set('w', keys, resolved(100));
    expect(c.get('w', keys)).toBeUndefined(); // seen once: not copied
    c.set('w', keys.slice(), resolved(100));
    expect(c.get('w', keys.slice())?.entries.length).toBe(100);
    const other = keys.map((k) => k + 1n);
    expect(c.get('w', other)).toBeUndefined();
    expect(c.get('x', keys)).toBeUndefined();
  });

  it('keeps nothing for lists that never repeat, so they cost no copy', () => {
    const c = new KeyListCache(4);
    for (let j = 0; j < 5; j++) {
      const keys = BigUint64Array.from({ length: 50 }, (_, i) => BigInt(i * 2 + j));
      c.set('w', keys, resolved(50));
      expect(c.get('w', keys)).toBeUndefined();
    }
  });

  it('adopts the tag of a request whose keys match by content, and trusts that tag afterwards', () => {
    const c = new KeyListCache(4);
    const keys = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i));
    c.set('w', keys, resolved(100), 1);
    c.set('w', keys.slice(), resolved(100), 1);
    expect(c.get('w', keys.slice(), 2)).toBeDefined(); // compared: the same keys, under tag 2 now
    const refilled = keys.map((k) => k + 1n);
    // (A sender never reuses a tag for other keys; this shows the tag is trusted without a compare.)
    expect(c.get('w', refilled, 2)).toBeDefined();
    expect(c.get('w', refilled, 1)).toBeUndefined(); // the old tag: compared, and the keys differ
    expect(c.get('w', refilled, 3)).toBeUndefined();
    expect(c.get('w', keys.slice(), 3)).toBeDefined();
  });
});
