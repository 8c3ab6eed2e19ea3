import { isPsError, PsErrorCode } from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader } from './frame-reader.js';

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
});
