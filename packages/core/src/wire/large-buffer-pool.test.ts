import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LargeBufferPool } from './large-buffer-pool.js';

describe('LargeBufferPool', () => {
  it('rounds a request up to its size class: at most a quarter more, a power of two exactly', () => {
    expect(LargeBufferPool.classBytes(65_536)).toBe(65_536);
    expect(LargeBufferPool.classBytes(65_537)).toBe(81_920);
    expect(LargeBufferPool.classBytes(4_000_058)).toBe(4_194_304);
    expect(LargeBufferPool.classBytes(4_194_305)).toBe(5_242_880);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), (n) => {
        const c = LargeBufferPool.classBytes(n);
        return c >= n && c < n * 1.25 + 1 && (n < 32 || c % 8 === 0);
      }),
    );
  });

  it('gives a released buffer out again, and refuses a second release or a foreign buffer', () => {
    const pool = new LargeBufferPool({ minBytes: 1024 });
    const a = pool.take(5000);
    expect(a.byteLength).toBe(5000);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(LargeBufferPool.classBytes(5000));
    expect(pool.owns(a)).toBe(true);
    expect(pool.release(a)).toBe(true);
    expect(pool.owns(a)).toBe(false);
    expect(pool.release(a)).toBe(false);
    expect(pool.release(new Uint8Array(5000))).toBe(false);
    const b = pool.take(4900); // same class
    expect(b.buffer).toBe(a.buffer);
    const c = pool.take(4900); // the class is empty again: a new buffer
    expect(c.buffer).not.toBe(a.buffer);
    expect(pool.stats).toMatchObject({
      taken: 3,
      reused: 1,
      released: 1,
      refused: 2,
      dropped: 0,
      idleBytes: 0,
    });
  });

  it('serves small requests with fresh buffers it never takes back', () => {
    const pool = new LargeBufferPool({ minBytes: 1024 });
    const small = pool.take(1023);
    expect(small.byteLength).toBe(1023);
    expect(pool.owns(small)).toBe(false);
    expect(pool.release(small)).toBe(false);
    expect(pool.stats.taken).toBe(0);
  });

  it('keeps at most maxIdleBytes idle: releases past it are dropped', () => {
    const pool = new LargeBufferPool({ minBytes: 1024, maxIdleBytes: 10_000 });
    const bufs = [pool.take(4096), pool.take(4096), pool.take(4096)];
    for (const b of bufs) expect(pool.release(b)).toBe(true);
    expect(pool.stats).toMatchObject({ released: 3, dropped: 1, idleBytes: 8192 });
    pool.clear();
    expect(pool.stats.idleBytes).toBe(0);
    expect(pool.take(4096).buffer).not.toBe(bufs[0]!.buffer);
  });

  it('never hands out a buffer that is still held: what a holder wrote stays as it wrote it', () => {
    // A model of holders taking and releasing buffers (and releasing twice, or releasing what
    // they never took): each holder fills its view with its own byte and checks it after every step.
    type Op =
      | { kind: 'take'; size: number }
      | { kind: 'release'; pick: number }
      | { kind: 'again'; pick: number };
    const sizes = [1024, 1100, 1280, 1281, 2048, 4000, 4096, 5000, 9000];
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('take' as const), size: fc.constantFrom(...sizes) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('again' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 40_000 }), (ops, cap) => {
        const pool = new LargeBufferPool({ minBytes: 1024, maxIdleBytes: cap });
        const held: { view: Uint8Array; mark: number }[] = [];
        const gone: Uint8Array[] = [];
        let next = 1;
        for (const o of ops) {
          if (o.kind === 'take') {
            const view = pool.take(o.size);
            if (view.byteLength !== o.size || view.byteOffset !== 0) return false;
            // No buffer held by another holder is given out again.
            if (held.some((h) => h.view.buffer === view.buffer)) return false;
            const mark = next++ % 251;
            view.fill(mark);
            held.push({ view, mark });
          } else if (o.kind === 'release' && held.length > 0) {
            const [h] = held.splice(o.pick % held.length, 1);
            if (!pool.release(h!.view)) return false;
            gone.push(h!.view);
          } else if (o.kind === 'again' && gone.length > 0) {
            // A second release of a buffer released before: refused unless it was taken again since.
            const g = gone[o.pick % gone.length]!;
            const takenAgain = held.some((h) => h.view.buffer === g.buffer);
            if (!takenAgain && pool.release(g)) return false;
          }
          for (const h of held) if (!h.view.every((b) => b === h.mark)) return false;
        }
        return pool.stats.idleBytes <= cap;
      }),
      { numRuns: 300 },
    );
  });
});
