import { InboundBudget, isPsError, PsErrorCode } from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_CHUNK, FrameReader } from './frame-reader.js';

const framed = (payloads: Uint8Array[]) => {
  const out: number[] = [];
  for (const p of payloads) {
    out.push(p.length & 0xff, (p.length >>> 8) & 0xff, (p.length >>> 16) & 0xff, p.length >>> 24, ...p);
  }
  return Uint8Array.from(out);
};

describe('FrameReader', () => {
  it('recovers the frames whatever the chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 50 }),
        (payloads, cuts) => {
          const stream = framed(payloads);
          const r = new FrameReader(1 << 20);
          const got: number[][] = [];
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const step = cuts[i++ % cuts.length]!;
            r.push(stream.subarray(off, off + step), (f) => got.push([...f]));
            off += step;
          }
          expect(got).toEqual(payloads.map((p) => [...p]));
          expect(r.partialBytes).toBe(0);
        },
      ),
    );
  });

  it('throws PS_ERR_FRAME_TOO_LARGE on an oversized length prefix', () => {
    const r = new FrameReader(100);
    let err: unknown;
    try {
      r.push(Uint8Array.from([101, 0, 0, 0]), () => undefined);
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
  });

  describe('with an inbound budget', () => {
    const KiB = 1024;
    const prefixed = (len: number, fill: number) => {
      const b = new Uint8Array(4 + len).fill(fill);
      new DataView(b.buffer).setUint32(0, len, true);
      return b;
    };
    const withBudget = (budget: InboundBudget) => {
      const r = new FrameReader(1 << 30);
      const log: string[] = [];
      r.useBudget({ budget, pause: () => log.push('pause'), granted: () => log.push('granted') });
      return { r, log };
    };

    it('holds a frame that does not fit until another completes, then replays its bytes exactly', () => {
      const budget = new InboundBudget(1024 * KiB);
      const a = withBudget(budget);
      const b = withBudget(budget);
      const fa = prefixed(600 * KiB, 1);
      const fb = Uint8Array.from([...prefixed(600 * KiB, 2), ...prefixed(3, 3)]);
      const got: number[][] = [];
      const keep = (f: Uint8Array) => got.push([f.byteLength, f[0]!, f[f.byteLength - 1]!]);
      a.r.push(fa.subarray(0, 1000), keep);
      expect(budget.usedBytes).toBe(600 * KiB);
      b.r.push(fb.subarray(0, 5000), keep);
      expect([b.r.paused, b.log, budget.waiting]).toEqual([true, ['pause'], 1]);
      b.r.push(fb.subarray(5000), keep); // arrived before the socket paused: kept as it is
      expect(got).toEqual([]);
      a.r.push(fa.subarray(1000), keep);
      expect(got).toEqual([[600 * KiB, 1, 1]]);
      expect([b.log, b.r.paused, budget.usedBytes]).toEqual([['pause', 'granted'], false, 600 * KiB]);
      b.r.push(EMPTY_CHUNK, keep);
      expect(got).toEqual([
        [600 * KiB, 1, 1],
        [600 * KiB, 2, 2],
        [3, 3, 3],
      ]);
      expect([budget.usedBytes, b.r.partialBytes]).toEqual([0, 0]);
    });

    it('never holds back frames up to 64 KiB, even with the budget taken', () => {
      const budget = new InboundBudget(128 * KiB);
      const big = withBudget(budget);
      big.r.push(prefixed(128 * KiB, 1).subarray(0, 100), () => undefined);
      expect(budget.usedBytes).toBe(128 * KiB);
      const small = withBudget(budget);
      const f = prefixed(64 * KiB, 7);
      const got: number[] = [];
      small.r.push(f.subarray(0, 10), (x) => got.push(x.byteLength));
      small.r.push(f.subarray(10), (x) => got.push(x.byteLength));
      expect([got, small.log]).toEqual([[64 * KiB], []]);
      big.r.dispose();
      expect(budget.usedBytes).toBe(0);
    });

    it('refuses a frame larger than the whole budget with PS_ERR_INBOUND_BUDGET, and dispose gives back a waiting claim', () => {
      const budget = new InboundBudget(256 * KiB);
      const a = withBudget(budget);
      let err: unknown;
      try {
        a.r.push(prefixed(256 * KiB + 1, 0).subarray(0, 8), () => undefined);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.INBOUND_BUDGET)).toBe(true);
      const b = withBudget(budget);
      const c = withBudget(budget);
      b.r.push(prefixed(200 * KiB, 0).subarray(0, 8), () => undefined);
      c.r.push(prefixed(100 * KiB, 0).subarray(0, 8), () => undefined);
      expect(c.r.paused).toBe(true);
      c.r.dispose();
      b.r.dispose();
      expect([budget.usedBytes, budget.waiting, c.log]).toEqual([0, 0, ['pause']]);
    });
  });
});
