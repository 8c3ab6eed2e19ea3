import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  decodeFrame,
  encodeChain,
  encodeFrame,
  type FilterContext,
  isPsError,
  type Message,
  PsErrorCode,
  seededRandom,
} from '@ps/core';
import fc from 'fast-check';
import * as nodeBuild from 'lz4-wasm-nodejs';
import { describe, expect, it } from 'vitest';
import { type Lz4BlockCodec, type Lz4Meta, lz4 } from './lz4.js';
import {
  buildMessage,
  bytesOf,
  cloneMessage,
  fillValues,
  messageDiff,
  messageSpecArb,
} from './test-messages.js';

const ctx: FilterContext = { peer: 'peer-1' };

function messageOf(data: Message['data'], request = true): Message {
  return { meta: { sender: 'w', recipient: 's', app: 3, ts: 9, request, push: true, pull: false }, data };
}

function sparse(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  fillValues(v, 'sparse', 1, seed);
  return v;
}

function psErrorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('lz4', () => {
  it('round-trips every layout exactly (dtypes and bytes), mutating nothing', () => {
    fc.assert(
      fc.property(messageSpecArb, fc.constantFrom(0, 64, 1024, 8192), (spec, minBytes) => {
        const msg = buildMessage(spec);
        const before = cloneMessage(msg);
        const f = lz4({ minBytes });
        const wire = f.encode(msg, ctx);
        expect(messageDiff(msg, before)).toBe('');
        const wireCopy = cloneMessage(wire);
        const back = f.decode(wire, ctx);
        expect(messageDiff(wire, wireCopy)).toBe('');
        expect(messageDiff(back, msg)).toBe('');
        // What travels: each segment as it was, or a smaller Uint8Array recorded in the meta.
        const entries = wire.meta.filters?.lz4 as Lz4Meta | undefined;
        if (entries === undefined) {
          expect(wire).toBe(msg);
          return;
        }
        expect(entries.length).toBe(msg.data.length);
        entries.forEach((e, i) => {
          if (e === null) {
            expect(wire.data[i]).toBe(msg.data[i]);
          } else {
            expect(msg.data[i]!.byteLength).toBeGreaterThanOrEqual(minBytes);
            expect(wire.data[i]).toBeInstanceOf(Uint8Array);
            expect(wire.data[i]!.byteLength).toBeLessThan(msg.data[i]!.byteLength);
            expect(e[1]).toBe(msg.data[i]!.byteLength);
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('survives the wire: frame encode/decode between the two halves', () => {
    fc.assert(
      fc.property(messageSpecArb, (spec) => {
        const msg = buildMessage(spec);
        const f = lz4({ minBytes: 256 });
        const back = f.decode(decodeFrame(encodeFrame(f.encode(msg, ctx))), ctx);
        expect(messageDiff(back, msg)).toBe('');
      }),
      { numRuns: 100 },
    );
  });

  it('compresses sparse values, and leaves small or incompressible segments as they were', () => {
    const keys = new BigUint64Array(25_000).map((_, i) => BigInt(i * 3 + 1));
    const dense = new Float32Array(25_000);
    fillValues(dense, 'dense', 1, 5);
    const small = sparse(200, 6); // 800 bytes < minBytes
    const f = lz4();
    const msg = messageOf([keys, dense, new Int32Array(small.buffer)]);
    const wire = f.encode(msg, ctx);
    const entries = wire.meta.filters?.lz4 as Lz4Meta;
    expect(entries[0]).toEqual([5, keys.byteLength]); // BigUint64Array, code 5
    expect(wire.data[0]!.byteLength).toBeLessThan(keys.byteLength / 1.5); // 6 zero bytes per key
    expect(entries[1]).toBeNull(); // dense random floats do not shrink
    expect(wire.data[1]).toBe(dense);
    expect(entries[2]).toBeNull();
    expect(wire.data[2]).toBe(msg.data[2]);

    const vals = sparse(250_000, 7);
    const packed = f.encode(messageOf([vals], false), ctx);
    expect(vals.byteLength / packed.data[0]!.byteLength).toBeGreaterThan(4);
    expect(messageDiff(f.decode(packed, ctx), messageOf([vals], false))).toBe('');
  });

  it('adds no meta when nothing shrinks, and empty segments pass', () => {
    const f = lz4({ minBytes: 0 });
    const msg = messageOf([new BigUint64Array(0), new Float32Array(0), new Uint8Array([1, 2, 3])]);
    const wire = f.encode(msg, ctx);
    expect(wire).toBe(msg);
    expect(f.decode(wire, ctx)).toBe(msg);
  });

  it('keeps other filters entries of meta.filters', () => {
    const f = lz4();
    const msg: Message = {
      ...messageOf([sparse(10_000, 1)]),
      meta: { ...messageOf([]).meta, filters: { other: { a: 1 } } },
    };
    const wire = f.encode(msg, ctx);
    expect(wire.meta.filters).toMatchObject({ other: { a: 1 } });
    expect(wire.meta.filters?.lz4).toBeDefined();
    expect(f.decode(wire, ctx).meta.filters).toEqual({ other: { a: 1 } });
  });

  it('states its signature and that it is lossless; counts bytes through encodeChain', () => {
    const f = lz4({ minBytes: 10 });
    expect(f.name).toBe('lz4');
    expect(f.signature).toBe('lz4');
    expect(f.lossless).toBe(true);
    const msg = messageOf([new BigUint64Array(1000), sparse(10_000, 2)]);
    const out = encodeChain([f], msg, ctx);
    expect(f.stats.messages).toBe(1);
    expect(f.stats.bytesIn).toBe(8000 + 40_000);
    expect(f.stats.bytesOut).toBe(out.data[0]!.byteLength + out.data[1]!.byteLength);
    expect(f.stats.bytesOut).toBeLessThan(f.stats.bytesIn / 4);
  });

  it('rejects bad options with PS_ERR_CONFIG', () => {
    for (const minBytes of [-1, Number.NaN, '5']) {
      expect(
        isPsError(
          psErrorOf(() => lz4({ minBytes: minBytes as number })),
          PsErrorCode.CONFIG,
        ),
      ).toBe(true);
    }
  });
});

describe('lz4, malformed input', () => {
  const f = lz4();
  const vals = sparse(20_000, 3);
  const wire = f.encode(messageOf([new BigUint64Array(1), vals]), ctx);
  const packed = wire.data[1] as Uint8Array;
  const entries = wire.meta.filters?.lz4 as Lz4Meta;
  const withSeg = (seg: Message['data'][number], meta: unknown = entries): Message => ({
    meta: { ...wire.meta, filters: { lz4: meta } },
    data: [wire.data[0]!, seg],
  });

  it('throws PS_ERR_FRAME_MALFORMED for bytes that are not the block the meta announces', () => {
    const edit = (fn: (b: Uint8Array) => void): Uint8Array => {
      const b = packed.slice();
      fn(b);
      return b;
    };
    const cases: Message[] = [
      withSeg(packed.subarray(0, packed.length - 7)), // truncated
      withSeg(packed.subarray(0, 3)), // shorter than the length prefix
      withSeg(edit((b) => b.fill(0xff, 4))), // garbage after a good prefix
      withSeg(edit((b) => new DataView(b.buffer).setUint32(0, 0xfffffff0, true))), // huge prefix
      withSeg(edit((b) => new DataView(b.buffer).setUint32(0, 80_004, true))), // prefix != meta
      withSeg(packed, [null, [3, 80_004]]), // meta != decompressed length
      withSeg(packed, [null, [3, 2 ** 31]]), // more than LZ4 can expand to
      withSeg(new Float32Array(packed.length)), // not bytes
    ];
    for (const m of cases) {
      const err = psErrorOf(() => f.decode(m, ctx));
      expect(isPsError(err, PsErrorCode.FRAME_MALFORMED), String(err)).toBe(true);
    }
    // The codec still works afterwards (no wasm state left broken by a trap).
    expect(messageDiff(f.decode(wire, ctx), messageOf([new BigUint64Array(1), vals]))).toBe('');
  });

  it('throws PS_ERR_MESSAGE_INVALID for a meta.filters.lz4 of the wrong shape', () => {
    for (const meta of [
      'x',
      [[3, 80_000]], // one entry for two segments
      [null, [9, 80_000]], // unknown dtype code
      [null, [3, 80_001]], // not whole float32 elements
      [null, [3, -4]],
      [null, [3]],
      [null, 'z'],
    ]) {
      const err = psErrorOf(() => f.decode(withSeg(packed, meta), ctx));
      expect(isPsError(err, PsErrorCode.MESSAGE_INVALID), String(err)).toBe(true);
    }
  });

  it('never crashes on random corruption: a PsError, or a segment of the recorded length', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (flips) => {
          const b = packed.slice();
          for (const [at, v] of flips) b[4 + (at % (b.length - 4))] = v; // keep the length prefix
          let out: Message | undefined;
          const err = psErrorOf(() => {
            out = f.decode(withSeg(b), ctx);
          });
          if (err !== undefined) {
            expect(isPsError(err, PsErrorCode.FRAME_MALFORMED), String(err)).toBe(true);
          } else {
            expect(out!.data[1]).toBeInstanceOf(Float32Array);
            expect(out!.data[1]!.byteLength).toBe(vals.byteLength);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(messageDiff(f.decode(wire, ctx), messageOf([new BigUint64Array(1), vals]))).toBe('');
  });
});

/** The parts of the WebAssembly global used here (its types are in lib.dom, not in this build). */
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: { new (bytes: Uint8Array): object; imports(m: object): { module: string }[] };
      Instance: new (m: object, imports: Record<string, object>) => { exports: unknown };
    };
  }
).WebAssembly;

/**
 * Loads `lz4-wasm` (the browser build) in Node. Its entry `import`s the .wasm file as an ES module
 * (for bundlers: webpack, Vite with a wasm plugin), which Node cannot do, and its package has no
 * `type: module`, `main` or `exports`. So this does what a bundler does: it instantiates the
 * package's own .wasm with the package's own glue (`lz4_wasm_bg.js`, loaded with its one `import`
 * of the .wasm replaced by a setter) as the wasm's imports.
 */
async function loadBrowserBuild(): Promise<Lz4BlockCodec> {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('lz4-wasm/package.json'));
  const glueSource = readFileSync(join(dir, 'lz4_wasm_bg.js'), 'utf8');
  const importLine = "import * as wasm from './lz4_wasm_bg.wasm';";
  expect(glueSource).toContain(importLine);
  const tmp = await mkdtemp(join(tmpdir(), 'ps-lz4-wasm-'));
  const gluePath = join(tmp, 'lz4_wasm_bg.mjs');
  writeFileSync(
    gluePath,
    glueSource.replace(importLine, 'let wasm;\nexport function __psSetWasm(exports) { wasm = exports; }'),
  );
  const glue = (await import(/* @vite-ignore */ pathToFileURL(gluePath).href)) as Lz4BlockCodec & {
    __psSetWasm(exports: unknown): void;
  };
  const module = new Wasm.Module(readFileSync(join(dir, 'lz4_wasm_bg.wasm')));
  expect(Wasm.Module.imports(module).map((i) => i.module)).toEqual(['./lz4_wasm_bg.js']);
  const instance = new Wasm.Instance(module, { './lz4_wasm_bg.js': glue });
  glue.__psSetWasm(instance.exports);
  return { compress: glue.compress, decompress: glue.decompress };
}

describe('lz4-wasm (browser build) and lz4-wasm-nodejs', () => {
  it('produce the same bytes and decode each other, also through the filter', async () => {
    const browser = await loadBrowserBuild();
    const rnd = seededRandom(77);
    for (const n of [0, 1, 100, 5000, 100_000]) {
      const input = new Uint8Array(n);
      for (let i = 0; i < n; i++) input[i] = rnd() < 0.7 ? 0 : Math.floor(rnd() * 256);
      const fromBrowser = browser.compress(input);
      const fromNode = nodeBuild.compress(input);
      expect(bytesOf(fromBrowser)).toEqual(bytesOf(fromNode));
      expect(nodeBuild.decompress(fromBrowser)).toEqual(input);
      expect(browser.decompress(fromNode)).toEqual(input);
    }
    // A browser peer sends, a Node peer receives, and back.
    const msg = messageOf([new BigUint64Array(3000).map((_, i) => BigInt(i)), sparse(30_000, 9)]);
    const inBrowser = lz4({ codec: browser });
    const inNode = lz4();
    expect(messageDiff(inNode.decode(inBrowser.encode(msg, ctx), ctx), msg)).toBe('');
    expect(messageDiff(inBrowser.decode(inNode.encode(msg, ctx), ctx), msg)).toBe('');
  });
});
