import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { concatParts, decodeFrame, encodeFrame } from './frame-codec.js';
import type { Message, Segment } from './message.js';

const meta = { sender: 'a', recipient: 'b', app: 3, ts: 17, request: true, push: true, pull: false };

const segArb: fc.Arbitrary<Segment> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.int32Array({ maxLength: 20 }),
  fc.float32Array({ maxLength: 20, noDefaultInfinity: true }),
  fc.float64Array({ maxLength: 20 }),
  fc.bigUint64Array({ maxLength: 10 }),
);

const bytesOf = (s: Segment) => [...new Uint8Array(s.buffer, s.byteOffset, s.byteLength)];

describe('frame codec', () => {
  it('round-trips meta and segments of every dtype, as one buffer or as parts (property)', () => {
    fc.assert(
      fc.property(fc.array(segArb, { maxLength: 6 }), fc.string({ maxLength: 30 }), (data, note) => {
        const msg: Message = { meta: { ...meta, body: { note, big: 2n ** 63n } }, data };
        const parts = encodeFrame(msg);
        for (const decoded of [decodeFrame(parts), decodeFrame(concatParts(parts))]) {
          expect(decoded.meta).toEqual(msg.meta);
          expect(decoded.data.map((s) => s.constructor.name)).toEqual(data.map((s) => s.constructor.name));
          expect(decoded.data.map(bytesOf)).toEqual(data.map(bytesOf));
        }
      }),
    );
  });

  it('decodes aligned segments as views of the frame, not copies', () => {
    const vals = new Float32Array([1, 2, 3]);
    const frame = concatParts(encodeFrame({ meta, data: [new BigUint64Array([1n, 2n, 3n]), vals] }));
    const out = decodeFrame(frame);
    expect(out.data[1]!.buffer).toBe(frame.buffer);
  });

  it('copies a segment that sits at an unaligned address', () => {
    const frame = concatParts(encodeFrame({ meta, data: [new Float64Array([1.5, -2.5])] }));
    const shifted = new Uint8Array(frame.byteLength + 1).subarray(1);
    shifted.set(frame);
    expect(Array.from(decodeFrame(shifted).data[0] as Float64Array)).toEqual([1.5, -2.5]);
  });

  it('gives unaligned copies their own aligned bytes, which later decodes never overwrite', () => {
    const decoded: BigUint64Array[] = [];
    // A frame at offset 4, as the first frame of a TCP chunk: its keys are copied (to slab pieces).
    for (let j = 0; j < 40; j++) {
      const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i * 40 + j));
      const frame = concatParts(encodeFrame({ meta, data: [keys, new Float32Array(1000)] }));
      const chunk = new Uint8Array(frame.byteLength + 4);
      chunk.set(frame, 4);
      const got = decodeFrame(chunk.subarray(4)).data[0] as BigUint64Array;
      expect(got.buffer).not.toBe(chunk.buffer);
      expect(got.byteOffset % 8).toBe(0);
      chunk.fill(0xff); // the frame's buffer is reused: the copy must not change
      decoded.push(got);
    }
    decoded.forEach((got, j) => {
      expect(got.length).toBe(1000);
      expect(got.every((k, i) => k === BigInt(i * 40 + j))).toBe(true);
    });
  });
  it('rejects every truncation of a frame with PS_ERR_FRAME_TRUNCATED or _MALFORMED, never another error', () => {
    const frame = concatParts(
      encodeFrame({ meta, data: [new BigUint64Array([1n, 9n]), new Float32Array([1, 2])] }),
    );
    for (let cut = 0; cut < frame.byteLength; cut++) {
      let err: unknown;
      try {
        decodeFrame(frame.subarray(0, cut));
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.FRAME_TRUNCATED) || isPsError(err, PsErrorCode.FRAME_MALFORMED)).toBe(
        true,
      );
    }
  });

  it('never throws anything but a PsError on random or corrupted bytes (property)', () => {
    const good = concatParts(
      encodeFrame({ meta, data: [new BigUint64Array([1n, 9n]), new Float32Array([1, 2])] }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const c = good.slice();
            c[i] = b;
            return c;
          }),
        ),
        (bytes) => {
          try {
            decodeFrame(bytes);
          } catch (e) {
            expect(isPsError(e)).toBe(true);
          }
        },
      ),
    );
  });

  it('rejects frames above maxFrameBytes on both ends', () => {
    const msg: Message = { meta, data: [new Float32Array(100)] };
    expect(() => encodeFrame(msg, 64)).toThrow(/PS_ERR_FRAME_TOO_LARGE/);
    expect(() => decodeFrame(encodeFrame(msg), 64)).toThrow(/PS_ERR_FRAME_TOO_LARGE/);
  });
});

describe('frame codec on Node Buffers', () => {
  it('decodes an unaligned frame inside a larger Buffer pool (Buffer.slice is a view)', () => {
    const frame = concatParts(
      encodeFrame({ meta, data: [new BigUint64Array([7n, 9n]), new Float32Array([1, 2])] }),
    );
    const pool = Buffer.alloc(frame.byteLength + 13, 0xee);
    pool.set(frame, 5);
    const out = decodeFrame(pool.subarray(5, 5 + frame.byteLength));
    expect(Array.from(out.data[0] as BigUint64Array)).toEqual([7n, 9n]);
    expect(Array.from(out.data[1] as Float32Array)).toEqual([1, 2]);
  });

  it('writes every header byte itself (zero padding) and never changes a header it gave out (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 40 }), fc.array(segArb, { maxLength: 3 })), {
          minLength: 2,
          maxLength: 30,
        }),
        (msgs) => {
          // Headers are cut from a shared slab that is never zeroed: encode many frames, then
          // check each is still the frame of its message, padding included.
          const frames = msgs.map(([note, data]) => {
            const parts = encodeFrame({ meta: { ...meta, body: note }, data });
            return { parts, copy: [...concatParts(parts)], note };
          });
          for (const f of frames) {
            expect([...concatParts(f.parts)]).toEqual(f.copy);
            const head = f.parts[0]!;
            const metaLen = new DataView(head.buffer, head.byteOffset).getUint32(4, true);
            const metaEnd = 8 + 8 * head[3]! + metaLen;
            expect([...head.subarray(metaEnd)]).toEqual(new Array(head.byteLength - metaEnd).fill(0));
            expect(head.byteOffset % 8).toBe(0);
            expect(decodeFrame(f.parts).meta.body).toBe(f.note);
          }
        },
      ),
    );
    // A header past the slab's largest piece has an unzeroed buffer of its own: padding still 0.
    for (let k = 1; k < 8; k++) {
      const head = encodeFrame({ meta: { ...meta, body: 'x'.repeat(40_000 + k) }, data: [] })[0]!;
      const metaEnd = 8 + new DataView(head.buffer, head.byteOffset).getUint32(4, true);
      expect([...head.subarray(metaEnd)]).toEqual(new Array(head.byteLength - metaEnd).fill(0));
    }
  });
});
