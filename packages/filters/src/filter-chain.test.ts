/** The filters of this package composed with `encodeChain` / `decodeChain`, in both orders. */
import {
  chainSignature,
  decodeChain,
  decodeFrame,
  encodeChain,
  encodeFrame,
  type Filter,
  type FilterContext,
  type Message,
  seededRandom,
  segmentBytes,
} from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lz4 } from './lz4.js';
import { quantize } from './quantize.js';
import {
  buildMessage,
  cloneMessage,
  fixedViolation,
  messageDiff,
  messageSpecArb,
  valueIndex,
} from './test-messages.js';

const send: FilterContext = { peer: 'server-1' };
const receive: FilterContext = { peer: 'worker-1' };

function chainOf(order: 'quantize,lz4' | 'lz4,quantize', bits: 8 | 16, minBytes: number): Filter[] {
  const q = quantize({ bits, seed: 17 });
  const l = lz4({ minBytes });
  return order === 'quantize,lz4' ? [q, l] : [l, q];
}

/** A response to a pull of n float32 values, a fraction `density` of them nonzero in [-1, 1). */
function sparsePull(n: number, density: number, seed: number): Message {
  const rnd = seededRandom(seed);
  const vals = new Float32Array(n);
  for (let i = 0; i < n; i++) if (rnd() < density) vals[i] = rnd() * 2 - 1;
  return {
    meta: { sender: 's-1', recipient: 'w-1', app: 1, ts: 4, request: false, push: false, pull: true },
    data: [vals],
  };
}

describe('quantize and lz4 in a chain', () => {
  it('round-trip every layout in both orders over the wire: keys and lens exact, values within the bound', () => {
    fc.assert(
      fc.property(
        messageSpecArb,
        fc.constantFrom('quantize,lz4' as const, 'lz4,quantize' as const),
        fc.constantFrom(8 as const, 16 as const),
        fc.constantFrom(0, 1024),
        (spec, order, bits, minBytes) => {
          const msg = buildMessage(spec);
          const before = cloneMessage(msg);
          const chain = chainOf(order, bits, minBytes);
          const wire = encodeChain(chain, msg, send);
          expect(messageDiff(msg, before)).toBe('');
          const received = decodeFrame(encodeFrame(wire));
          const back = decodeChain(chain, received, receive);
          expect(JSON.stringify(back.meta)).toBe(JSON.stringify(msg.meta));
          expect(back.data.length).toBe(msg.data.length);
          const vi = valueIndex(spec.layout);
          for (let i = 0; i < msg.data.length; i++) {
            if (i === vi) {
              const x = msg.data[i] as Float32Array | Float64Array;
              expect(fixedViolation(x, back.data[i] as Float32Array | Float64Array, bits)).toBe('');
            } else {
              expect(
                messageDiff(
                  { meta: msg.meta, data: [back.data[i]!] },
                  { meta: msg.meta, data: [msg.data[i]!] },
                ),
              ).toBe('');
            }
          }
          // Each filter counted what it saw and what it produced, one after the other.
          expect(chain[0]!.stats.bytesIn).toBe(segmentBytes(msg.data));
          expect(chain[1]!.stats.bytesIn).toBe(chain[0]!.stats.bytesOut);
          expect(chain[1]!.stats.bytesOut).toBe(segmentBytes(wire.data));
          expect(chain.every((f) => f.stats.messages === 1)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('shrinks sparse values a lot when quantized before lz4 (exact zeros make long runs)', () => {
    const msg = sparsePull(1_000_000, 0.01, 1);
    const raw = segmentBytes(msg.data);
    const ratioOf = (chain: Filter[]) => raw / segmentBytes(encodeChain(chain, msg, send).data);
    const lz4Only = ratioOf([lz4()]);
    const q8 = ratioOf([quantize({ bits: 8, seed: 1 }), lz4()]);
    const q16 = ratioOf([quantize({ bits: 16, seed: 1 }), lz4()]);
    // Measured: lz4 alone ~42x, 8-bit then lz4 ~71x, 16-bit then lz4 ~54x (1% nonzero).
    expect(lz4Only).toBeGreaterThan(20);
    expect(q8).toBeGreaterThan(50);
    expect(q16).toBeGreaterThan(40);
    expect(q8).toBeGreaterThan(lz4Only * 1.4);
    // Dense values: quantization alone gives its 4x (8 bits) and lz4 finds nothing more.
    const dense = sparsePull(100_000, 1, 2);
    const denseRatio =
      segmentBytes(dense.data) / segmentBytes(encodeChain([quantize({ bits: 8 }), lz4()], dense, send).data);
    expect(denseRatio).toBeCloseTo(4, 1);
  });

  it('decodes what it encoded in both orders for the sparse case, zeros exact', () => {
    const msg = sparsePull(200_000, 0.02, 3);
    const x = msg.data[0] as Float32Array;
    for (const order of ['quantize,lz4', 'lz4,quantize'] as const) {
      const chain = chainOf(order, 8, 1024);
      expect(chainSignature(chain)).toBe(order === 'quantize,lz4' ? 'quantize:8,lz4' : 'lz4,quantize:8');
      const back = decodeChain(chain, encodeChain(chain, msg, send), receive);
      expect(fixedViolation(x, back.data[0] as Float32Array, 8)).toBe('');
    }
  });
});
