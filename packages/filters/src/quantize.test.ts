import {
  decodeFrame,
  encodeChain,
  encodeFrame,
  type FilterContext,
  isPsError,
  type Message,
  PsErrorCode,
  segmentBytes,
} from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type QuantizeMeta, quantize } from './quantize.js';
import {
  buildMessage,
  cloneMessage,
  fillValues,
  fixedViolation,
  messageDiff,
  messageSpecArb,
  sameSegment,
  valueIndex,
} from './test-messages.js';

const ctx: FilterContext = { peer: 'peer-1' };

function pushOf(vals: Float32Array | Float64Array): Message {
  const keys = new BigUint64Array(vals.length).map((_, i) => BigInt(i + 1));
  return {
    meta: { sender: 'w', recipient: 's', app: 0, ts: 1, request: true, push: true, pull: false },
    data: [keys, vals],
  };
}

describe('quantize, fixed point', () => {
  it('round-trips every layout within the bound, restores dtype, keeps keys, lens and meta, mutates nothing', () => {
    fc.assert(
      fc.property(
        messageSpecArb,
        fc.constantFrom(8 as const, 16 as const),
        fc.integer(),
        (spec, bits, seed) => {
          const msg = buildMessage(spec);
          const before = cloneMessage(msg);
          const f = quantize({ bits, seed });
          const wire = f.encode(msg, ctx);
          expect(messageDiff(msg, before)).toBe('');
          const wireCopy = cloneMessage(wire);
          const back = f.decode(wire, ctx);
          expect(messageDiff(wire, wireCopy)).toBe('');
          expect(JSON.stringify(back.meta)).toBe(JSON.stringify(msg.meta));
          expect(back.data.length).toBe(msg.data.length);
          const vi = valueIndex(spec.layout);
          for (let i = 0; i < msg.data.length; i++) {
            if (i === vi) continue;
            expect(back.data[i]).toBe(msg.data[i]); // keys and lens: untouched, not even copied
            expect(wire.data[i]).toBe(msg.data[i]);
          }
          if (vi < 0) {
            expect(wire).toBe(msg);
            return;
          }
          const x = msg.data[vi] as Float32Array | Float64Array;
          const d = back.data[vi] as Float32Array | Float64Array;
          expect(fixedViolation(x, d, bits)).toBe('');
          if (x.length > 0) {
            // The value segment travels as codes: 1 or 2 bytes per value.
            expect(wire.data[vi]).toBeInstanceOf(Uint8Array);
            expect(wire.data[vi]!.byteLength).toBe((x.length * bits) / 8);
            const q = wire.meta.filters?.quantize as QuantizeMeta;
            expect(q).toMatchObject({ seg: vi, dtype: spec.dtype, codec: `fixed${bits}`, n: x.length });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps the bound on fast-check's edge floats (subnormals, -0, +-max), or leaves the segment as it was", () => {
    const f32 = fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 1, maxLength: 64 });
    const f64 = fc.float64Array({ noNaN: true, noDefaultInfinity: true, minLength: 1, maxLength: 64 });
    fc.assert(
      fc.property(fc.oneof(f32, f64), fc.constantFrom(8 as const, 16 as const), (vals, bits) => {
        const msg = pushOf(vals);
        const f = quantize({ bits, seed: 7 });
        const wire = f.encode(msg, ctx);
        const back = f.decode(wire, ctx);
        if (wire === msg) {
          // Only a float64 range that overflows (or is too small to step) is left as it was.
          expect(vals).toBeInstanceOf(Float64Array);
          let mn = Number.POSITIVE_INFINITY;
          let mx = Number.NEGATIVE_INFINITY;
          for (const v of vals) {
            mn = Math.min(mn, v);
            mx = Math.max(mx, v);
          }
          const range = mx - mn;
          const reach = Math.max(Math.abs(mn), Math.abs(mx)) + 1.01 * range;
          expect(reach > 1.7e308 || range < 1e-300).toBe(true);
          expect(back.data[1]).toBe(vals);
          return;
        }
        expect(fixedViolation(vals, back.data[1] as Float32Array | Float64Array, bits)).toBe('');
      }),
      { numRuns: 500 },
    );
  });

  it('survives the wire: frame encode/decode between the two halves gives the same result', () => {
    fc.assert(
      fc.property(messageSpecArb, fc.constantFrom(8 as const, 16 as const), (spec, bits) => {
        const msg = buildMessage(spec);
        const f = quantize({ bits, seed: 3 });
        const wire = f.encode(msg, ctx);
        const direct = f.decode(wire, ctx);
        const viaFrame = f.decode(decodeFrame(encodeFrame(wire)), ctx);
        expect(messageDiff(viaFrame, direct)).toBe('');
      }),
      { numRuns: 100 },
    );
  });

  it('is unbiased: the mean of many decodes of the same values converges to them', () => {
    const n = 1000;
    const x = new Float32Array(n);
    fillValues(x, 'dense', 1, 42);
    x[0] = -1; // fixes the grid: min -1, max 1, so the step is 2 / 254 at most
    x[1] = 1;
    const f = quantize({ bits: 8, seed: 1234 });
    const rounds = 2000;
    const sum = new Float64Array(n);
    for (let r = 0; r < rounds; r++) {
      const back = f.decode(f.encode(pushOf(x), ctx), ctx).data[1] as Float32Array;
      for (let i = 0; i < n; i++) sum[i]! += back[i]!;
    }
    // Each decode is x rounded to a neighbouring grid point: variance <= step^2 / 4, so the mean
    // of `rounds` decodes has standard deviation <= step / (2 sqrt(rounds)). Rounding to nearest
    // (biased) would miss by up to step / 2, about 45 of those standard deviations.
    const sd = 2 / 254 / (2 * Math.sqrt(rounds));
    let worst = 0;
    let bias = 0;
    for (let i = 0; i < n; i++) {
      const err = sum[i]! / rounds - x[i]!;
      worst = Math.max(worst, Math.abs(err));
      bias += err;
    }
    expect(worst).toBeLessThan(5 * sd);
    expect(Math.abs(bias / n)).toBeLessThan((5 * sd) / Math.sqrt(n));
  });

  it('decodes zeros to exactly 0 on a grid that straddles 0, and when 0 is the min or the max', () => {
    for (const [lo, hi] of [
      [-0.37, 1.91],
      [-5, 0.001],
      [-0.001, 5],
      [0, 3.3],
      [-3.3, 0],
    ] as const) {
      for (const bits of [8, 16] as const) {
        const x = new Float64Array(5000);
        const rnd = fc.sample(fc.double({ min: lo, max: hi, noNaN: true }), { numRuns: 5000, seed: 9 });
        for (let i = 0; i < x.length; i++) x[i] = i % 3 === 0 ? 0 : rnd[i]!;
        x[1] = lo;
        x[2] = hi;
        const f = quantize({ bits, seed: 5 });
        const wire = f.encode(pushOf(x), ctx);
        const q = wire.meta.filters?.quantize as Extract<QuantizeMeta, { z: number }>;
        const back = f.decode(wire, ctx).data[1] as Float64Array;
        for (let i = 0; i < x.length; i += 3) expect(back[i]).toBe(0);
        expect(q.min).toBe(lo);
        expect(q.max).toBe(hi);
        expect(fixedViolation(x, back, bits)).toBe('');
      }
    }
  });

  it('decodes a constant segment exactly, zeros included', () => {
    for (const c of [0, 1.5, -2.25, 1e-30, 3e38]) {
      for (const Ctor of [Float32Array, Float64Array]) {
        const x = new Ctor(300).fill(c);
        const f = quantize({ bits: 8, seed: 1 });
        const back = f.decode(f.encode(pushOf(x), ctx), ctx);
        expect(sameSegment(back.data[1], x)).toBe(true);
      }
    }
  });

  it('leaves a value segment holding NaN or +-Infinity as it was (no meta), in both modes', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const f of [quantize({ bits: 8 }), quantize({ bits: 16 }), quantize({ bits: 16, mode: 'bf16' })]) {
        for (const Ctor of [Float32Array, Float64Array]) {
          const x = new Ctor([1, 2, bad, 4]);
          const msg = pushOf(x);
          const wire = f.encode(msg, ctx);
          expect(wire).toBe(msg);
          expect(wire.meta.filters).toBeUndefined();
          const back = f.decode(wire, ctx);
          expect(back.data[1]).toBe(x);
          expect(Object.is(back.data[1]![2], bad)).toBe(true);
        }
      }
    }
  });

  it('draws its rounding from a seedable generator: same seed, same codes; other seed, other codes', () => {
    const x = new Float32Array(2000);
    fillValues(x, 'dense', 1, 3);
    const codes = (seed: number) => quantize({ bits: 8, seed }).encode(pushOf(x), ctx).data[1]!;
    expect(sameSegment(codes(11), codes(11))).toBe(true);
    expect(sameSegment(codes(11), codes(12))).toBe(false);
  });

  it('decodes 16-bit codes that sit at an odd byte offset', () => {
    const x = new Float32Array(100);
    fillValues(x, 'dense', 10, 8);
    const f = quantize({ bits: 16, seed: 2 });
    const wire = f.encode(pushOf(x), ctx);
    const codes = wire.data[1] as Uint8Array;
    const shifted = new Uint8Array(codes.byteLength + 1).subarray(1);
    shifted.set(codes);
    const direct = f.decode(wire, ctx).data[1]!;
    const odd = f.decode({ meta: wire.meta, data: [wire.data[0]!, shifted] }, ctx).data[1]!;
    expect(sameSegment(odd, direct)).toBe(true);
    expect(fixedViolation(x, direct as Float32Array, 16)).toBe('');
  });
});

describe('quantize, bf16', () => {
  /** Reference: the nearest of the two bfloat16 neighbours of float32 bits b, ties to even. */
  function bf16Reference(b: number): number {
    const down = b >>> 16;
    const up = down + 1;
    const f = new Float32Array(new Uint32Array([b, (down << 16) >>> 0, (up << 16) >>> 0]).buffer);
    const dDown = Math.abs(f[0]! - f[1]!);
    const dUp = Math.abs(f[2]! - f[0]!);
    if ((up & 0x7f80) === 0x7f80) return down; // never round up to infinity
    if (dDown < dUp) return down;
    if (dUp < dDown) return up;
    return down % 2 === 0 ? down : up;
  }

  it('rounds each float32 to its nearest bfloat16 (ties to even) within relative 2^-8', () => {
    const f32 = fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 1, maxLength: 200 });
    fc.assert(
      fc.property(f32, (x) => {
        const f = quantize({ bits: 16, mode: 'bf16' });
        const wire = f.encode(pushOf(x), ctx);
        expect(wire.data[1]!.byteLength).toBe(2 * x.length);
        expect(wire.meta.filters?.quantize).toEqual({ seg: 1, dtype: 'f32', codec: 'bf16', n: x.length });
        const back = f.decode(wire, ctx).data[1] as Float32Array;
        expect(back).toBeInstanceOf(Float32Array);
        const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
        const db = new Uint32Array(back.buffer, back.byteOffset, back.length);
        for (let i = 0; i < x.length; i++) {
          expect(db[i]! >>> 16).toBe(bf16Reference(xb[i]!));
          const xi = x[i]!;
          const bound = Math.abs(xi) >= 2 ** -126 ? 2 ** -8 * Math.abs(xi) : 2 ** -134;
          expect(Math.abs(back[i]! - xi)).toBeLessThanOrEqual(bound);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps floats near the float32 maximum finite, and decodes float64 input to Float64Array', () => {
    const max = 3.4028234663852886e38;
    const f = quantize({ bits: 16, mode: 'bf16' });
    const back = f.decode(f.encode(pushOf(new Float32Array([max, -max, 1, -0.1])), ctx), ctx).data[1]!;
    for (const v of back as Float32Array) expect(Number.isFinite(v)).toBe(true);
    expect(Math.abs((back[0] as number) - max) / max).toBeLessThanOrEqual(2 ** -8);

    const x64 = new Float64Array(500);
    fillValues(x64, 'dense', 1000, 4);
    const d64 = f.decode(f.encode(pushOf(x64), ctx), ctx).data[1]!;
    expect(d64).toBeInstanceOf(Float64Array);
    for (let i = 0; i < x64.length; i++) {
      expect(Math.abs((d64[i] as number) - x64[i]!)).toBeLessThanOrEqual(
        (2 ** -8 + 2 ** -24) * Math.abs(x64[i]!),
      );
    }
  });
});

describe('quantize, contract', () => {
  it('states its signature, lossiness and error bound', () => {
    expect(quantize({ bits: 8 }).signature).toBe('quantize:8');
    expect(quantize({ bits: 16 }).signature).toBe('quantize:16');
    expect(quantize({ bits: 16, mode: 'bf16' }).signature).toBe('quantize:bf16');
    const f = quantize({ bits: 8 });
    expect(f.name).toBe('quantize');
    expect(f.lossless).toBe(false);
    expect(f.errorBound).toContain('(max - min) / 255');
    expect(quantize({ bits: 16, mode: 'bf16' }).errorBound).toContain('2^-8');
  });

  it('rejects bad options with PS_ERR_CONFIG', () => {
    for (const opts of [{ bits: 4 }, { bits: 8, mode: 'fp8' }, { bits: 8, mode: 'bf16' }]) {
      let err: unknown;
      try {
        quantize(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    }
  });

  it('counts bytes in and out through encodeChain', () => {
    const x = new Float32Array(1000);
    fillValues(x, 'dense', 1, 1);
    const msg = pushOf(x);
    const f = quantize({ bits: 8 });
    encodeChain([f], msg, ctx);
    encodeChain([f], msg, ctx);
    expect(f.stats).toEqual({
      messages: 2,
      bytesIn: 2 * segmentBytes(msg.data),
      bytesOut: 2 * (8000 + 1000),
    });
  });

  it('rejects a malformed meta.filters.quantize or code segment with a PsError', () => {
    const x = new Float32Array(64).map((_, i) => i - 20);
    const f = quantize({ bits: 16 });
    const wire = f.encode(pushOf(x), ctx);
    const q = wire.meta.filters?.quantize as Record<string, unknown>;
    const withMeta = (m: unknown, data = wire.data): Message => ({
      meta: { ...wire.meta, filters: { quantize: m } },
      data,
    });
    const cases: [Message, string][] = [
      [withMeta('x'), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, seg: 5 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, dtype: 'f16' }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, codec: 'fixed4' }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, step: 'big' }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, z: 1e6 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, n: -1 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...q, n: 65 }), PsErrorCode.FRAME_MALFORMED],
      [withMeta(q, [wire.data[0]!, new Float32Array(32)]), PsErrorCode.FRAME_MALFORMED],
      [withMeta({ ...q, codec: 'fixed8' }), PsErrorCode.MESSAGE_INVALID], // z beyond 8-bit codes
      [withMeta({ ...q, codec: 'fixed8', z: 0 }), PsErrorCode.FRAME_MALFORMED], // 2 bytes per value
    ];
    for (const [m, code] of cases) {
      expect(() => f.decode(m, ctx)).toThrow(code);
      let err: unknown;
      try {
        f.decode(m, ctx);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err)).toBe(true);
    }
  });
});
