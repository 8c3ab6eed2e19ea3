import { decodeFrame, encodeFrame, FRAME_VERSION, type Meta } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { FrameReader } from './frame-reader.js';

/** A request and an answer as a worker and a server send them (binary metas, frame version 2). */
const request = {
  app: 0,
  ts: 4021,
  request: true,
  push: true,
  pull: true,
  done: 4020,
  ring: 3,
  part: 0,
  inc: '0c9e51aa7d3f6b21',
  filters: { keyReuse: { id: 2 ** 40 + 17, n: 1000 } },
} as unknown as Meta;
const answer = { app: 0, ts: 4021, request: false, push: true, pull: true, part: 0 } as unknown as Meta;

const lengthPrefixed = (parts: Uint8Array[]): Uint8Array => {
  const n = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(4 + n);
  new DataView(out.buffer).setUint32(0, n, true);
  let at = 4;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

describe('binary data metas over the TCP framing', () => {
  it('decodes the same messages wherever the stream of two frames is split', () => {
    expect(FRAME_VERSION).toBe(2);
    const vals = Float32Array.from({ length: 7 }, (_, i) => i / 2);
    const a = lengthPrefixed(encodeFrame({ meta: request, data: [new BigUint64Array(0), vals] }));
    const b = lengthPrefixed(encodeFrame({ meta: answer, data: [vals] }));
    const stream = new Uint8Array(a.byteLength + b.byteLength);
    stream.set(a);
    stream.set(b, a.byteLength);
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const r = new FrameReader(1 << 20);
      const got: Meta[] = [];
      const data: number[][] = [];
      for (const chunk of [stream.slice(0, cut), stream.slice(cut)]) {
        r.push(chunk, (f) => {
          const m = decodeFrame(f);
          got.push(m.meta);
          data.push(Array.from(m.data.at(-1) as Float32Array));
        });
      }
      expect(got).toEqual([request, answer]);
      expect(data).toEqual([Array.from(vals), Array.from(vals)]);
      expect(r.partialBytes).toBe(0);
    }
  });
});
