import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coalesceFrames } from './coalesce-frames.js';
import { FrameReader } from './frame-reader.js';

const concat = (chunks: readonly Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
};
const frameOf = (parts: Uint8Array[]) => ({ parts, len: parts.reduce((n, p) => n + p.byteLength, 0) });
/** What the wire must carry: each frame's u32 little-endian length, then its parts. */
const expected = (frames: { parts: Uint8Array[]; len: number }[]) => {
  const bytes: number[] = [];
  for (const f of frames) {
    bytes.push(f.len & 0xff, (f.len >>> 8) & 0xff, (f.len >>> 16) & 0xff, f.len >>> 24);
    for (const p of f.parts) bytes.push(...p);
  }
  return Uint8Array.from(bytes);
};
const parts = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 });

describe('coalesceFrames', () => {
  it('lays out exactly the frames, passes long parts as the same views and copies the rest (property)', () => {
    fc.assert(
      fc.property(fc.array(parts, { maxLength: 12 }), fc.integer({ min: 1, max: 48 }), (ps, copyBelow) => {
        const frames = ps.map(frameOf);
        const chunks = coalesceFrames(frames, copyBelow);
        expect([...concat(chunks)]).toEqual([...expected(frames)]);
        const long = frames.flatMap((f) => f.parts.filter((p) => p.byteLength >= copyBelow));
        expect(chunks.filter((c) => long.includes(c))).toEqual(long);
        // Between two long parts there is at most one copied chunk.
        for (let i = 1; i < chunks.length; i++) {
          expect(long.includes(chunks[i]!) || long.includes(chunks[i - 1]!)).toBe(true);
        }
      }),
    );
  });

  it('gives back every frame to a reader, whatever byte the stream is cut at (property)', () => {
    fc.assert(
      fc.property(
        fc.array(parts, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 48 }),
        (ps, copyBelow) => {
          const frames = ps.map(frameOf);
          const stream = concat(coalesceFrames(frames, copyBelow));
          for (let cut = 0; cut <= stream.length; cut++) {
            const r = new FrameReader(1 << 20);
            const got: number[][] = [];
            r.push(stream.slice(0, cut), (f) => got.push([...f]));
            r.push(stream.slice(cut), (f) => got.push([...f]));
            expect(got).toEqual(frames.map((f) => [...concat(f.parts)]));
            expect(r.partialBytes).toBe(0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never lets a later batch overwrite the staged bytes of an earlier one (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(parts, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 40 }),
        (batches) => {
          const written = batches.map((b) => {
            const frames = b.map(frameOf);
            const chunks = coalesceFrames(frames);
            return { chunks, bytes: expected(frames) };
          });
          for (const w of written) expect([...concat(w.chunks)]).toEqual([...w.bytes]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('stages a batch of 4 KB frames as one chunk, and a 64 KiB part as its own view', () => {
    const small = Array.from({ length: 8 }, (_, i) =>
      frameOf([new Uint8Array(136).fill(i), new Uint8Array(4000).fill(i)]),
    );
    const chunks = coalesceFrames(small);
    expect(chunks.length).toBe(1);
    expect(chunks[0]!.byteLength).toBe(8 * 4140);
    const big = new Uint8Array(64 * 1024).fill(7);
    const mixed = coalesceFrames([frameOf([new Uint8Array(40), big, new Uint8Array(8)])]);
    expect(mixed.map((c) => c.byteLength)).toEqual([44, 64 * 1024, 8]);
    expect(mixed[1]).toBe(big);
    expect(coalesceFrames([])).toEqual([]);
  });
});
