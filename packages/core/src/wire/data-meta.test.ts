import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { validateMeta } from '../net/endpoint.js';
import { DATA_META_MARKER, readDataMeta, writeDataMeta } from './data-meta.js';
import { concatParts, decodeFrame, encodeFrame } from './frame-codec.js';
import type { Meta } from './message.js';

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const u32Edges = fc.oneof(u32, fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1));
const ascii = fc.string({
  unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  maxLength: 32,
});

/** Every field the layout holds, each over its whole range, each present or absent. */
const dataMeta: fc.Arbitrary<Meta> = fc
  .record(
    {
      app: u32Edges,
      ts: u32Edges,
      request: fc.boolean(),
      push: fc.boolean(),
      pull: fc.boolean(),
      resend: fc.constant(true as const),
      done: u32Edges,
      ring: u32Edges,
      part: u32Edges,
      iter: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
      inc: ascii,
      deps: fc.array(u32Edges, { maxLength: 40 }),
      filters: fc.record(
        {
          keyReuse: fc.record(
            {
              id: fc.oneof(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.constantFrom(0, 2 ** 48 - 1)),
              n: u32Edges,
              store: fc.constant(true as const),
            },
            { requiredKeys: ['id', 'n'] },
          ),
        },
        { requiredKeys: ['keyReuse'] },
      ),
    },
    { requiredKeys: ['app', 'ts', 'request', 'push', 'pull'] },
  )
  .map((m) => m as unknown as Meta);

const metaBytesOf = (frame: Uint8Array) => {
  const dv = new DataView(frame.buffer, frame.byteOffset);
  const n = frame[3]!;
  return frame.subarray(8 + 8 * n, 8 + 8 * n + dv.getUint32(4, true));
};

/** A frame whose header says its meta is `meta` (length, padding), with the given segments. */
const withMetaBytes = (meta: Uint8Array): Uint8Array => {
  const len = 8 + ((meta.length + 7) & ~7);
  const f = new Uint8Array(len);
  f.set([0x50, 0x53, 2, 0]);
  new DataView(f.buffer).setUint32(4, meta.length, true);
  f.set(meta, 8);
  return f;
};

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (!isPsError(e)) throw e;
    return e.code;
  }
  return undefined;
};

const sample: Meta = {
  app: 2,
  ts: 91,
  request: true,
  push: true,
  pull: false,
  done: 90,
  ring: 4,
  part: 1,
  inc: '9f3a61c0b2d4e857',
  deps: [88, 89],
  filters: { keyReuse: { id: 123456789, n: 1000 } },
} as unknown as Meta;

describe('the binary data meta', () => {
  it('round-trips every field over its whole range, alone and in a frame (property)', () => {
    fc.assert(
      fc.property(dataMeta, (meta) => {
        const bytes = writeDataMeta(meta);
        expect(bytes?.[0]).toBe(DATA_META_MARKER);
        expect(readDataMeta(bytes!.slice())).toEqual(meta);
        const frame = concatParts(
          encodeFrame({ meta, data: [new BigUint64Array([3n]), new Float32Array([1])] }),
        );
        expect(metaBytesOf(frame)[0]).toBe(DATA_META_MARKER);
        const back = decodeFrame(frame).meta;
        expect(back).toEqual(meta);
        expect(() => validateMeta(back)).not.toThrow();
      }),
    );
  });

  it('decodes a frame split into two parts at every byte boundary', () => {
    const frame = concatParts(
      encodeFrame({ meta: sample, data: [new BigUint64Array([1n, 5n]), new Float32Array(2)] }),
    );
    for (let cut = 1; cut < frame.byteLength; cut++) {
      const got = decodeFrame([frame.slice(0, cut), frame.slice(cut)]);
      expect(got.meta).toEqual(sample);
      expect(Array.from(got.data[0] as BigUint64Array)).toEqual([1n, 5n]);
    }
  });

  it('sends as msgpack, and round-trips, what the layout does not hold (property)', () => {
    const outside = fc.oneof(
      fc.record({ ts: fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }) }),
      fc.record({ app: fc.constantFrom(-1, 0.5, 2 ** 32) }),
      fc.record({ inc: fc.constantFrom('é', 'x'.repeat(33)) }),
      fc.record({ deps: fc.constant([2 ** 32]) }),
      fc.record({ resend: fc.constant(false) }),
      fc.record({ cmd: fc.constant('heartbeat'), body: fc.string() }),
      fc.record({ error: fc.record({ code: fc.constant('PS_ERR_HANDLER'), message: fc.string() }) }),
      fc.record({ sender: fc.string(), recipient: fc.string() }),
      fc.record({
        filters: fc.constantFrom({}, { lz4: { n: 1 } }, { keyReuse: { id: 1, n: 2, store: false } }),
      }),
      fc.record({ filters: fc.constant({ keyReuse: { id: 2 ** 48, n: 2 } }) }),
      fc.record({ range: fc.constant({ ranges: [[0, 10]] }) }),
    );
    fc.assert(
      fc.property(dataMeta, outside, (base, extra) => {
        const meta = { ...base, ...extra } as unknown as Meta;
        expect(writeDataMeta(meta)).toBeUndefined();
        const frame = concatParts(encodeFrame({ meta, data: [] }));
        expect(metaBytesOf(frame)[0]).not.toBe(DATA_META_MARKER);
        expect(decodeFrame(frame).meta).toEqual(meta);
      }),
    );
  });

  it('refuses every truncation and every extension of a meta with PS_ERR_FRAME_MALFORMED', () => {
    const bytes = writeDataMeta(sample)!.slice();
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(codeOf(() => readDataMeta(bytes.subarray(0, cut)))).toBe(PsErrorCode.FRAME_MALFORMED);
      expect(codeOf(() => decodeFrame(withMetaBytes(bytes.subarray(0, cut))))).toBe(
        PsErrorCode.FRAME_MALFORMED,
      );
    }
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(codeOf(() => decodeFrame(withMetaBytes(longer)))).toBe(PsErrorCode.FRAME_MALFORMED);
  });

  it('refuses unknown flags, non-zero slots of absent fields and values out of range', () => {
    const minimal = writeDataMeta({
      app: 1,
      ts: 2,
      request: true,
      push: false,
      pull: true,
    } as unknown as Meta)!.slice();
    expect(readDataMeta(minimal)).toEqual({ app: 1, ts: 2, request: true, push: false, pull: true });
    const bad = (edit: (b: Uint8Array, dv: DataView) => void) => {
      const b = minimal.slice();
      edit(b, new DataView(b.buffer));
      return codeOf(() => decodeFrame(withMetaBytes(b)));
    };
    expect(
      bad((b) => {
        b[2] = 16;
      }),
    ).toBe(PsErrorCode.FRAME_MALFORMED); // unknown flag
    expect(
      bad((b) => {
        b[2] = 8;
      }),
    ).toBe(PsErrorCode.FRAME_MALFORMED); // store without keyReuse
    expect(
      bad((b) => {
        b[3] = 1;
      }),
    ).toBe(PsErrorCode.FRAME_MALFORMED); // inc length without inc
    for (const at of [12, 16, 20, 24, 31, 34, 36, 40, 47]) {
      expect(
        bad((b) => {
          b[at] = 1;
        }),
      ).toBe(PsErrorCode.FRAME_MALFORMED); // an absent field's slot
    }
    // iter past 2^53 - 1 (its high word 2^21), and the largest that is not.
    expect(
      bad((b, dv) => {
        b[1]! |= 128;
        dv.setUint32(28, 2 ** 21, true);
      }),
    ).toBe(PsErrorCode.FRAME_MALFORMED);
    const maxIter = minimal.slice();
    maxIter[1]! |= 128;
    new DataView(maxIter.buffer).setUint32(24, 2 ** 32 - 1, true);
    new DataView(maxIter.buffer).setUint32(28, 2 ** 21 - 1, true);
    expect(readDataMeta(maxIter).iter).toBe(Number.MAX_SAFE_INTEGER);
    // keyReuse.id at 2^48 (its high word 2^16).
    expect(
      bad((b, dv) => {
        b[2]! |= 4;
        dv.setUint32(44, 2 ** 16, true);
      }),
    ).toBe(PsErrorCode.FRAME_MALFORMED);
    const withInc = writeDataMeta({
      ...sample,
      deps: undefined,
      filters: undefined,
    } as unknown as Meta)!.slice();
    withInc[48] = 0xe9;
    expect(codeOf(() => readDataMeta(withInc))).toBe(PsErrorCode.FRAME_MALFORMED);
  });

  it('never throws anything but a PsError, nor yields an invalid meta, on garbled bytes (property)', () => {
    const good = writeDataMeta(sample)!.slice();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const b = good.slice();
          for (const [i, v] of edits) b[i] = v;
          let meta: Meta | undefined;
          const code = codeOf(() => {
            meta = decodeFrame(withMetaBytes(b)).meta;
          });
          if (code === undefined) expect(() => validateMeta(meta!)).not.toThrow();
          else expect([PsErrorCode.FRAME_MALFORMED, PsErrorCode.FRAME_TRUNCATED]).toContain(code);
        },
      ),
    );
  });

  it('is refused by a node of frame version 1, and a version 1 frame by this one', () => {
    const frame = concatParts(encodeFrame({ meta: sample, data: [] }));
    expect(frame[2]).toBe(2);
    frame[2] = 1;
    expect(codeOf(() => decodeFrame(frame))).toBe(PsErrorCode.FRAME_MALFORMED);
  });
});
