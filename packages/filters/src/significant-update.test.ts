import {
  decodeChain,
  decodeFrame,
  encodeChain,
  encodeFrame,
  type Filter,
  type FilterContext,
  isPsError,
  type Message,
  PsErrorCode,
  seededRandom,
  segmentBytes,
} from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lz4 } from './lz4.js';
import { type QuantizeMeta, quantize } from './quantize.js';
import {
  type SignificantMeta,
  type SignificantUpdateFilter,
  significantUpdate,
} from './significant-update.js';
import { cloneMessage, messageDiff, sameSegment } from './test-messages.js';

const WORKER = 'worker-1';
const SERVER = 'server-1';
/** Keys of the generated messages: ids 0..UNIVERSE-1 mapped to increasing 64-bit keys (both words). */
const UNIVERSE = 25;
const keyOf = (id: number): bigint => BigInt(id) * 0x9_0000_0001n;
const idOf = new Map<bigint, number>(Array.from({ length: UNIVERSE }, (_, i) => [keyOf(i), i]));

type Vals = Float32Array | Float64Array;

function keysOf(ids: readonly number[]): BigUint64Array {
  return BigUint64Array.from([...ids].sort((a, b) => a - b).map(keyOf));
}

function pushMsg(ts: number, keys: BigUint64Array, vals: Vals, lens?: Int32Array, app = 0): Message {
  return {
    meta: { sender: WORKER, recipient: SERVER, app, ts, request: true, push: true, pull: false },
    data: lens === undefined ? [keys, vals] : [keys, vals, lens],
  };
}

function pullRequest(ts: number, keys: BigUint64Array, app = 0): Message {
  return {
    meta: { sender: WORKER, recipient: SERVER, app, ts, request: true, push: false, pull: true },
    data: [keys],
  };
}

function pullResponse(ts: number, vals: Vals, app = 0): Message {
  return {
    meta: { sender: SERVER, recipient: WORKER, app, ts, request: false, push: false, pull: true },
    data: [vals],
  };
}

/** The worker's context (encode to the server, decode from it) and the server's. */
const toServer = (keys?: BigUint64Array): FilterContext => (keys ? { peer: SERVER, keys } : { peer: SERVER });
const toWorker = (keys?: BigUint64Array): FilterContext => (keys ? { peer: WORKER, keys } : { peer: WORKER });

/** Encodes with the worker's chain, over the wire, decodes with the server's; checks no input changed. */
function sendPush(worker: Filter[], server: Filter[], msg: Message): { wire: Message; back: Message } {
  const before = cloneMessage(msg);
  const keys = msg.data[0] as BigUint64Array;
  const wire = encodeChain(worker, msg, toServer(keys));
  expect(messageDiff(msg, before)).toBe('');
  const received = decodeFrame(encodeFrame(wire));
  const receivedCopy = cloneMessage(received);
  const back = decodeChain(server, received, toWorker(received.data[0] as BigUint64Array));
  expect(messageDiff(received, receivedCopy)).toBe('');
  return { wire, back };
}

/**
 * A pull of `keys` answered with `vals`: the worker encodes the request, the server decodes it,
 * encodes its response (inside `bypass` when `whole`), the worker decodes it. Checks no input changed.
 */
function roundTripPull(
  worker: Filter[],
  server: Filter[],
  ts: number,
  keys: BigUint64Array,
  vals: Vals,
  whole = false,
): { request: Message; wire: Message; back: Message } {
  const req = pullRequest(ts, keys);
  const request = encodeChain(worker, req, toServer(keys));
  decodeChain(server, decodeFrame(encodeFrame(request)), toWorker(keys));
  const resp = pullResponse(ts, vals);
  const before = cloneMessage(resp);
  const sig = server[0] as SignificantUpdateFilter;
  const encode = () => encodeChain(server, resp, toWorker(keys));
  const wire = whole ? sig.bypass(encode) : encode();
  expect(messageDiff(resp, before)).toBe('');
  const received = decodeFrame(encodeFrame(wire));
  const receivedCopy = cloneMessage(received);
  const back = decodeChain(worker, received, toServer(keys));
  expect(messageDiff(received, receivedCopy)).toBe('');
  return { request, wire, back };
}

/** Push values: a fifth zeros, the rest uniform in (-scale, scale), stored in the dtype. */
function randomVals(n: number, dtype: 'f32' | 'f64', scale: number, seed: number): Vals {
  const rnd = seededRandom(seed);
  const v = dtype === 'f32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const zero = rnd() < 0.2;
    const x = (rnd() * 2 - 1) * scale;
    v[i] = zero ? 0 : x;
  }
  return v;
}

const pushSeqArb = fc.record({
  dtype: fc.constantFrom('f32' as const, 'f64' as const),
  width: fc.integer({ min: 1, max: 3 }),
  lens: fc.boolean(),
  threshold: fc.constantFrom(0, 0.01, 0.3, 1, 5),
  flushEvery: fc.constantFrom(undefined, 1, 2, 5),
  pushes: fc.array(
    fc.record({
      ids: fc.uniqueArray(fc.integer({ min: 0, max: UNIVERSE - 1 }), { minLength: 1, maxLength: 12 }),
      scale: fc.constantFrom(1e-3, 0.1, 1, 10),
      seed: fc.nat(),
    }),
    { minLength: 1, maxLength: 25 },
  ),
});
type PushSeq = typeof pushSeqArb extends fc.Arbitrary<infer T> ? T : never;

/** Values per key: `width`, or 1 + id % 3 for variable-length pushes (a key keeps its length). */
const lenOf = (s: PushSeq, id: number): number => (s.lens ? 1 + (id % 3) : s.width);

/**
 * Runs a push sequence through the chains and the flush; per key and value slot, the sums of what
 * was pushed, of what the server decoded (plus the flushed residuals), and of |pushed|. `stepOf`
 * gives the quantization step each wire message carries (0 when none).
 */
function runPushes(
  s: PushSeq,
  worker: Filter[],
  server: Filter[],
  onMessage?: (wire: Message, back: Message, sent: Vals, i: number) => void,
): { pushed: Float64Array; got: Float64Array; abs: Float64Array; noise: Float64Array } {
  const pushed = new Float64Array(UNIVERSE * 3);
  const got = new Float64Array(UNIVERSE * 3);
  const abs = new Float64Array(UNIVERSE * 3);
  const noise = new Float64Array(UNIVERSE * 3);
  s.pushes.forEach((p, i) => {
    const ids = [...p.ids].sort((a, b) => a - b);
    const keys = keysOf(ids);
    const lens = s.lens ? Int32Array.from(ids, (id) => lenOf(s, id)) : undefined;
    const n = ids.reduce((t, id) => t + lenOf(s, id), 0);
    const vals = randomVals(n, s.dtype, p.scale, p.seed);
    const { wire, back } = sendPush(worker, server, pushMsg(i, keys, vals, lens));
    expect(back.data[0]).toEqual(keys); // the key list is never changed
    if (lens) expect(back.data[2]).toEqual(lens);
    const dec = back.data[1] as Vals;
    expect(dec).toBeInstanceOf(vals.constructor);
    expect(dec.length).toBe(n);
    const q = wire.meta.filters?.quantize as Extract<QuantizeMeta, { step: number }> | undefined;
    const step = q?.step ?? 0;
    let at = 0;
    for (const id of ids) {
      for (let j = 0; j < lenOf(s, id); j++, at++) {
        pushed[id * 3 + j]! += vals[at]!;
        abs[id * 3 + j]! += Math.abs(vals[at]!);
        got[id * 3 + j]! += dec[at]!;
        // Quantize's bound: below one grid step, plus the float32 rounding of the result.
        noise[id * 3 + j]! += step + Math.abs(dec[at]!) * 2 ** -23;
      }
    }
    onMessage?.(wire, back, vals, i);
  });
  const sig = worker[0] as SignificantUpdateFilter;
  for (const r of sig.flush(SERVER)) {
    expect(r.peer).toBe(SERVER);
    expect(r.app).toBe(0);
    for (let i = 1; i < r.keys.length; i++) expect(r.keys[i - 1]! < r.keys[i]!).toBe(true);
    let at = 0;
    r.keys.forEach((k, i) => {
      const id = idOf.get(k)!;
      const len = r.lens ? r.lens[i]! : r.vals.length / r.keys.length;
      expect(len).toBe(lenOf(s, id));
      let nonzero = false;
      for (let j = 0; j < len; j++, at++) {
        got[id * 3 + j]! += r.vals[at]!;
        nonzero ||= r.vals[at] !== 0;
      }
      expect(nonzero).toBe(true); // only keys with something pending
    });
  }
  expect(sig.flush()).toEqual([]); // flushing cleared them
  return { pushed, got, abs, noise };
}

describe('significantUpdate, pushes', () => {
  it('(a, d) preserves the sum per key: decoded pushes plus flushed residuals equal what was pushed', () => {
    fc.assert(
      fc.property(pushSeqArb, (s) => {
        const worker = significantUpdate({ threshold: s.threshold, flushEvery: s.flushEvery });
        const server = significantUpdate({ threshold: s.threshold });
        const { pushed, got, abs } = runPushes(s, [worker], [server], (wire, back, sent, i) => {
          // Nothing to undo on the server, and no meta: the zeros are real zeros.
          expect(wire.meta.filters).toBeUndefined();
          expect(sameSegment(back.data[1], wire.data[1])).toBe(true);
          const whole = s.flushEvery !== undefined && (i + 1) % s.flushEvery === 0;
          const dec = back.data[1] as Vals;
          for (let j = 0; j < dec.length; j++) {
            const d = dec[j]!;
            // Each value travels above the threshold, or as 0 (all travel on every flushEvery-th).
            if (!whole) expect(d === 0 || Math.abs(d) > s.threshold * (1 - 2 ** -23)).toBe(true);
          }
          if (s.threshold === 0) {
            // Threshold 0: every nonzero update travels at once (float32 keeps its rounding error).
            for (let j = 0; j < dec.length; j++) if (sent[j] !== 0) expect(dec[j]).not.toBe(0);
          }
        });
        // Only the float64 rounding of residual + value remains (relative 2^-53 per push), and
        // that of these test sums themselves; float32 adds nothing (its rounding stays pending).
        const tol = (i: number) => 4 * (s.pushes.length + 2) * 2 ** -53 * abs[i]!;
        for (let i = 0; i < pushed.length; i++) {
          expect(Math.abs(got[i]! - pushed[i]!), `slot ${i}`).toBeLessThanOrEqual(tol(i));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('(c) turns many small updates into zeros: the message keeps its keys and mostly carries 0', () => {
    const n = 10_000;
    const keys = new BigUint64Array(n).map((_, i) => BigInt(i * 3 + 1));
    const worker = significantUpdate({ threshold: 0.01 });
    const rnd = seededRandom(4);
    let zeros = 0;
    for (let round = 0; round < 3; round++) {
      const vals = new Float32Array(n);
      for (let i = 0; i < n; i++) vals[i] = rnd() < 0.01 ? (rnd() - 0.5) * 2 : (rnd() - 0.5) * 1e-3;
      const wire = worker.encode(pushMsg(round, keys, vals), toServer(keys));
      expect(wire.data[0]).toBe(keys);
      zeros = (wire.data[1] as Float32Array).filter((v) => v === 0).length;
      // ~1% large values travel; the small ones build up (|sum| of 3 rounds < 1.5e-3 < 0.01).
      expect(zeros).toBeGreaterThan(0.97 * n);
    }
    // The zeros compress: value-segment bytes with and without this filter in front.
    const vals = new Float32Array(n);
    for (let i = 0; i < n; i++) vals[i] = rnd() < 0.01 ? (rnd() - 0.5) * 2 : (rnd() - 0.5) * 1e-3;
    const msg = pushMsg(9, keys, vals);
    const valBytes = (chain: Filter[]) => {
      const wire = encodeChain(chain, msg, toServer(keys));
      expect(chain[0]!.stats.messages).toBe(1);
      return wire.data[1]!.byteLength;
    };
    const sig = () => significantUpdate({ threshold: 0.01 });
    const q8 = () => quantize({ bits: 8, seed: 1 });
    // Measured: 40,000 B raw; lz4 alone 40,000 (dense floats); significant + lz4 ~0.9 KB;
    // quantize + lz4 ~1.9 KB; significant + quantize + lz4 ~0.6 KB.
    expect(valBytes([lz4()])).toBe(vals.byteLength);
    expect(valBytes([sig(), lz4()])).toBeLessThan(vals.byteLength / 20);
    expect(valBytes([sig(), q8(), lz4()]) * 2.5).toBeLessThan(valBytes([q8(), lz4()]));
  });

  it('flush returns what is pending, sorted, with lens when lengths differ; bypass sends it whole', () => {
    const worker = significantUpdate({ threshold: 1 });
    const server = significantUpdate({ threshold: 1 });
    const keys = keysOf([7, 2, 4]); // ids 2, 4, 7
    const lens = Int32Array.from([1, 2, 1]);
    const vals = new Float64Array([0.5, 3, 0.25, -0.75]);
    const { back } = sendPush([worker], [server], pushMsg(0, keys, vals, lens));
    expect([...(back.data[1] as Float64Array)]).toEqual([0, 3, 0, 0]);
    const noKeys = pushMsg(0, keysOf([1]), new Float64Array([0.1]), undefined, 2);
    expect(worker.encode(noKeys, toServer())).toBe(noKeys); // no ctx.keys: as it is
    worker.encode(pushMsg(1, keysOf([1]), new Float64Array([0.1]), undefined, 2), toServer(keysOf([1])));

    const pending = worker.flush();
    expect(pending).toHaveLength(2);
    const [a0, a2] = pending;
    expect(a0).toMatchObject({ peer: SERVER, app: 0 });
    expect([...a0!.keys]).toEqual([keyOf(2), keyOf(4), keyOf(7)]);
    expect([...a0!.vals]).toEqual([0.5, 0, 0.25, -0.75]); // key 4 keeps both values (one nonzero)
    expect([...a0!.lens!]).toEqual([1, 2, 1]);
    expect(a2).toMatchObject({ peer: SERVER, app: 2, vals: new Float64Array([0.1]) });
    expect(a2!.lens).toBeUndefined();
    expect(worker.flush()).toEqual([]);

    // Pushed back without bypass, values under the threshold would stay pending; with it they travel.
    const again = (fn: () => Message) => fn().data[1] as Float64Array;
    const msg = pushMsg(2, a0!.keys, a0!.vals, a0!.lens);
    expect([...again(() => worker.bypass(() => worker.encode(msg, toServer(a0!.keys))))]).toEqual([
      0.5, 0, 0.25, -0.75,
    ]);
    expect(worker.flush(SERVER)).toEqual([]);
    expect([
      ...again(() => worker.encode(pushMsg(3, a0!.keys, a0!.vals, a0!.lens), toServer(a0!.keys))),
    ]).toEqual([0, 0, 0, 0]);
    expect(worker.flush('server-2')).toEqual([]);
    expect(worker.flush(SERVER)).toHaveLength(1);
    expect(worker.bypass(() => 42)).toBe(42);
    expect(() =>
      worker.bypass(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    // The bypass ended with the throw.
    expect([
      ...again(() =>
        worker.encode(pushMsg(4, keysOf([3]), new Float64Array([0.5]), undefined), toServer(keysOf([3]))),
      ),
    ]).toEqual([0]);
  });

  it('sends every flushEvery-th push whole, residuals included', () => {
    const worker = significantUpdate({ threshold: 1, flushEvery: 3 });
    const keys = keysOf([0, 1]);
    const sent: number[][] = [];
    for (let ts = 0; ts < 6; ts++) {
      const out = worker.encode(pushMsg(ts, keys, new Float64Array([0.25, 2])), toServer(keys));
      sent.push([...(out.data[1] as Float64Array)]);
    }
    expect(sent).toEqual([
      [0, 2],
      [0, 2],
      [0.75, 2],
      [0, 2],
      [0, 2],
      [0.75, 2],
    ]);
    expect(worker.flush()).toEqual([]);
  });

  it('carries float32 rounding in the residual, and sends NaN and infinities at once', () => {
    const worker = significantUpdate({ threshold: 1 });
    const keys = keysOf([0]);
    const third = new Float64Array([1 / 3 + 1]);
    // A float64 value does not round; a float32 one keeps r - fround(r) pending.
    const a = worker.encode(pushMsg(0, keys, new Float32Array(third)), toServer(keys));
    const f = Math.fround(1 / 3 + 1);
    expect((a.data[1] as Float32Array)[0]).toBe(f);
    expect(worker.flush()).toEqual([]); // fround(x) is x: nothing pending
    worker.encode(pushMsg(1, keys, new Float32Array([0.75])), toServer(keys));
    const b = worker.encode(pushMsg(2, keys, new Float32Array([0.5])), toServer(keys));
    expect((b.data[1] as Float32Array)[0]).toBe(1.25);
    let ts = 3;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const Ctor of [Float32Array, Float64Array]) {
        const out = worker.encode(pushMsg(ts++, keysOf([5]), new Ctor([bad])), toServer(keysOf([5])));
        expect(Object.is(out.data[1]![0], bad)).toBe(true);
        expect(worker.flush()).toEqual([]); // nothing kept: a NaN residual would poison the key
      }
    }
    expect(worker.flush()).toEqual([]);
  });

  it('resends a push (same app and ts, after a key-cache miss) exactly as first sent', () => {
    const worker = significantUpdate({ threshold: 1 });
    const keys = keysOf([0, 1, 2]);
    worker.encode(pushMsg(0, keys, new Float64Array([0.5, 0.5, 0.5])), toServer(keys));
    const msg = pushMsg(1, keys, new Float64Array([0.75, 0.25, 2]));
    const first = worker.encode(msg, toServer(keys));
    expect([...(first.data[1] as Float64Array)]).toEqual([1.25, 0, 2.5]);
    const resent = worker.encode({ ...msg, meta: { ...msg.meta, done: 1 } }, toServer(keys));
    expect(resent.data[1]).toBe(first.data[1]);
    // Pending as after one send of it: 0, 0.75, 0.
    const [p] = worker.flush();
    expect([...p!.keys]).toEqual([keyOf(1)]);
    expect([...p!.vals]).toEqual([0.75]);
    // Once done says ts 1 finished, the same ts is a new push.
    const later = worker.encode({ ...msg, meta: { ...msg.meta, done: 2 } }, toServer(keys));
    expect([...(later.data[1] as Float64Array)]).toEqual([0, 0, 2]);
  });

  it('counts nothing twice after a re-slice: applied sends plus what is held equal what was pushed', () => {
    // Each task is sliced over servers A, B, C; now and then one slice is lost (its server died)
    // and its keys go to the others as a resend. The lost slice's values count as never applied.
    const rand = seededRandom(14);
    const peers = ['server-a', 'server-b', 'server-c'];
    for (let run = 0; run < 50; run++) {
      const worker = significantUpdate({ threshold: 1 });
      const pushed = new Float64Array(UNIVERSE);
      const applied = new Float64Array(UNIVERSE);
      let reslices = 0;
      for (let ts = 0; ts < 30; ts++) {
        const ids = Array.from({ length: UNIVERSE }, (_, i) => i).filter(() => rand() < 0.7);
        if (ids.length === 0) continue;
        const val = new Map(ids.map((id) => [id, Math.round((rand() * 4 - 2) * 8) / 8]));
        for (const [id, v] of val) pushed[id]! += v;
        const send = (peer: string, part: number[], resend: boolean) => {
          if (part.length === 0) return undefined;
          const keys = keysOf(part);
          const vals = Float64Array.from(keys, (k) => val.get(idOf.get(k)!)!);
          const msg = pushMsg(ts, keys, vals);
          if (resend) msg.meta.resend = true;
          const out = worker.encode(msg, { peer, keys }).data[1] as Float64Array;
          return { keys, out };
        };
        const owner = new Map(ids.map((id) => [id, peers[Math.floor(rand() * 3)]!]));
        const lost = rand() < 0.4 ? peers[Math.floor(rand() * 3)]! : undefined;
        for (const peer of peers) {
          const sent = send(
            peer,
            ids.filter((id) => owner.get(id) === peer),
            false,
          );
          if (!sent || peer === lost) continue;
          sent.keys.forEach((k, i) => {
            applied[idOf.get(k)!]! += sent.out[i]!;
          });
        }
        if (lost === undefined) continue;
        reslices++;
        const moved = ids.filter((id) => owner.get(id) === lost);
        const others = peers.filter((p) => p !== lost);
        for (const peer of others) {
          const part = moved.filter((id) => others[id % 2] === peer);
          const sent = send(peer, part, true);
          sent?.keys.forEach((k, i) => {
            applied[idOf.get(k)!]! += sent.out[i]!;
          });
        }
      }
      const held = new Float64Array(UNIVERSE);
      for (const r of worker.flush()) {
        r.keys.forEach((k, i) => {
          held[idOf.get(k)!]! += r.vals[i]!;
        });
      }
      for (let id = 0; id < UNIVERSE; id++) {
        expect(applied[id]! + held[id]!, `run ${run} key ${id} (${reslices} re-slices)`).toBe(pushed[id]!);
      }
    }
  });

  it('leaves pushes it cannot track as they are', () => {
    const f = significantUpdate({ threshold: 1 });
    const keys = keysOf([0, 1]);
    const cases: [Message, BigUint64Array | undefined][] = [
      [pushMsg(0, keys, new Float64Array([0.5, 0.5])), undefined], // ctx.keys unknown
      [pushMsg(1, keys, new Float64Array([0.5, 0.5, 0.5])), keys], // 3 values for 2 keys
      [pushMsg(2, keys, new Float64Array(0)), keys],
      [pushMsg(3, keys, new Float64Array([0.5, 0.5]), Int32Array.from([1, 2])), keys], // lens sum
      [{ ...pushMsg(4, keys, new Float64Array(2)), data: [keys, new Uint8Array(2)] }, keys], // encoded
    ];
    for (const [msg, k] of cases) expect(f.encode(msg, toServer(k))).toBe(msg);
    // A key that changes length: as it is (and its residual is kept).
    f.encode(pushMsg(5, keysOf([0]), new Float64Array([0.5])), toServer(keysOf([0])));
    const longer = pushMsg(6, keysOf([0]), new Float64Array([0.5, 0.5]), Int32Array.from([2]));
    expect(f.encode(longer, toServer(keysOf([0])))).toBe(longer);
    expect(f.flush()[0]!.vals).toEqual(new Float64Array([0.5]));
    // The key list in data[0] may be a key-caching signature: ctx.keys is what counts.
    const signed: Message = {
      ...pushMsg(7, keys, new Float64Array([0.5, 2])),
      data: [new Uint8Array(8), new Float64Array([0.5, 2])],
    };
    const out = f.encode(signed, toServer(keys));
    expect(out.data[0]).toBe(signed.data[0]);
    expect([...(out.data[1] as Float64Array)]).toEqual([0, 2]);
  });

  it('(e) preserves the sum within the quantization error in chains with quantize and lz4, both orders', () => {
    fc.assert(
      fc.property(
        pushSeqArb,
        fc.constantFrom('quantize,lz4' as const, 'lz4,quantize' as const),
        fc.constantFrom(8 as const, 16 as const),
        fc.constantFrom(0, 256),
        (s, order, bits, minBytes) => {
          const chainOf = (sig: SignificantUpdateFilter, seed: number): Filter[] => {
            const q = quantize({ bits, seed });
            const l = lz4({ minBytes });
            return order === 'quantize,lz4' ? [sig, q, l] : [sig, l, q];
          };
          const worker = chainOf(significantUpdate({ threshold: s.threshold, flushEvery: s.flushEvery }), 3);
          const server = chainOf(significantUpdate({ threshold: s.threshold }), 4);
          const { pushed, got, abs, noise } = runPushes(s, worker, server);
          for (let i = 0; i < pushed.length; i++) {
            const tol = noise[i]! * (1 + 1e-9) + 4 * (s.pushes.length + 2) * 2 ** -53 * abs[i]!;
            expect(Math.abs(got[i]! - pushed[i]!), `slot ${i}`).toBeLessThanOrEqual(tol);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

const pullSeqArb = fc.record({
  dtype: fc.constantFrom('f32' as const, 'f64' as const),
  width: fc.integer({ min: 1, max: 3 }),
  threshold: fc.constantFrom(0, 0.05, 0.5),
  flushEvery: fc.constantFrom(undefined, 1, 3),
  steps: fc.array(
    fc.record({
      change: fc.uniqueArray(fc.integer({ min: 0, max: UNIVERSE - 1 }), { maxLength: UNIVERSE }),
      scale: fc.constantFrom(1e-3, 0.02, 0.2, 2),
      pull: fc.uniqueArray(fc.integer({ min: 0, max: UNIVERSE - 1 }), { minLength: 1, maxLength: UNIVERSE }),
      whole: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
      seed: fc.nat(),
    }),
    { minLength: 1, maxLength: 25 },
  ),
});

describe('significantUpdate, pulls', () => {
  it('(b, d) keeps every pulled value within the threshold of the server, exact on whole responses', () => {
    fc.assert(
      fc.property(pullSeqArb, (s) => {
        const w = s.width;
        const truth = s.dtype === 'f32' ? new Float32Array(UNIVERSE * w) : new Float64Array(UNIVERSE * w);
        truth.set(randomVals(truth.length, s.dtype, 1, 99));
        const worker = significantUpdate({ threshold: s.threshold });
        const server = significantUpdate({ threshold: s.threshold, flushEvery: s.flushEvery });
        const seen = new Set<number>();
        s.steps.forEach((step, i) => {
          const rnd = seededRandom(step.seed);
          for (const id of step.change) {
            for (let j = 0; j < w; j++) truth[id * w + j]! += (rnd() * 2 - 1) * step.scale;
          }
          const ids = [...step.pull].sort((a, b) => a - b);
          const keys = keysOf(ids);
          const vals =
            s.dtype === 'f32' ? new Float32Array(ids.length * w) : new Float64Array(ids.length * w);
          for (const [k, id] of ids.entries()) vals.set(truth.subarray(id * w, (id + 1) * w), k * w);
          const whole = step.whole || (s.flushEvery !== undefined && (i + 1) % s.flushEvery === 0);
          const { request, wire, back } = roundTripPull([worker], [server], i, keys, vals, step.whole);
          expect(request.meta.filters).toBeUndefined(); // in sync: pull requests travel as they are
          const m = wire.meta.filters?.significant as Extract<SignificantMeta, { n: number }>;
          expect(m).toMatchObject({ n: vals.length, epoch: 0, seq: i });
          const wv = wire.data[0] as Vals;
          if (m.fresh === m.n) {
            expect(wire.data).toHaveLength(1);
            expect(wv).toBe(vals); // nothing to hold back: the values travel as they were
          } else {
            expect(wire.data[1]).toBeInstanceOf(Uint8Array);
            for (let p = 0; p < wv.length; p++) {
              const marked = ((wire.data[1] as Uint8Array)[p >> 3]! >> (p & 7)) & 1;
              if (!marked)
                expect(wv[p]).toBe(0); // held back: 0 on the wire
              else expect(wv[p]).toBe(vals[p]);
            }
          }
          const dec = back.data[0] as Vals;
          expect(back.data).toHaveLength(1);
          expect(back.meta.filters).toBeUndefined();
          expect(dec).toBeInstanceOf(vals.constructor);
          ids.forEach((id, k) => {
            for (let j = 0; j < w; j++) {
              const x = vals[k * w + j]!;
              const d = dec[k * w + j]!;
              if (whole || !seen.has(id)) expect(d).toBe(x);
              else expect(Math.abs(d - x)).toBeLessThanOrEqual(s.threshold);
            }
            seen.add(id);
          });
        });
      }),
      { numRuns: 300 },
    );
  });

  it('(c) sends mostly zeros when values barely move, and the bitmap and zeros shrink under lz4', () => {
    const n = 20_000;
    const keys = new BigUint64Array(n).map((_, i) => BigInt(i));
    const truth = new Float32Array(n);
    truth.set(randomVals(n, 'f32', 1, 5));
    const before = truth.slice();
    const worker = [significantUpdate({ threshold: 0.01 }), quantize({ bits: 8, seed: 1 }), lz4()];
    const server = [significantUpdate({ threshold: 0.01 }), quantize({ bits: 8, seed: 2 }), lz4()];
    const first = roundTripPull(worker, server, 0, keys, truth.slice());
    const full = segmentBytes(first.wire.data);
    const rnd = seededRandom(6);
    for (let i = 0; i < n; i++) truth[i]! += rnd() < 0.02 ? 1 : (rnd() - 0.5) * 1e-3;
    const plainSig = significantUpdate({ threshold: 0.01 });
    plainSig.encode(pullResponse(0, before), toWorker(keys));
    const bare = plainSig.encode(pullResponse(1, truth), toWorker(keys));
    const zeros = (bare.data[0] as Float32Array).filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(0.97 * n);
    const second = roundTripPull(worker, server, 1, keys, truth);
    expect(segmentBytes(second.wire.data)).toBeLessThan(full / 5);
    const back = second.back.data[0] as Float32Array;
    // Within threshold plus the 8-bit steps of the two messages that carried each value.
    for (let i = 0; i < n; i++) expect(Math.abs(back[i]! - truth[i]!)).toBeLessThan(0.01 + 0.03);
  });

  it('recovers when the worker loses track: fails that response, resets the server with a new epoch', () => {
    const worker = significantUpdate({ threshold: 0.5 });
    const server = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0, 1, 2, 3]);
    const vals = new Float64Array([1, 2, 3, 4]);
    roundTripPull([worker], [server], 0, keys, vals);
    // A response whose request keys the worker no longer knows (its task failed meanwhile).
    const moved = new Float64Array([1.1, 2, 3, 9]);
    const lost = server.encode(pullResponse(1, moved), toWorker(keys));
    let err: unknown;
    try {
      worker.decode(lost, toServer());
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.MESSAGE_INVALID)).toBe(true);
    // The next pull request carries a new epoch; the server forgets and sends everything.
    const next = roundTripPull([worker], [server], 2, keys, moved);
    const epoch = (next.request.meta.filters!.significant as { epoch: number }).epoch;
    expect(epoch).toBeGreaterThan(0);
    expect(next.wire.meta.filters?.significant).toMatchObject({ n: 4, fresh: 4, epoch });
    expect([...(next.back.data[0] as Float64Array)]).toEqual([1.1, 2, 3, 9]);
    // Confirmed: requests travel plain again, and the threshold applies again.
    const after = roundTripPull([worker], [server], 3, keys, new Float64Array([1.2, 2, 3, 9]));
    expect(after.request.meta.filters).toBeUndefined();
    expect([...(after.back.data[0] as Float64Array)]).toEqual([1.1, 2, 3, 9]);
  });

  it('detects a lost response by its sequence number instead of using stale values', () => {
    const worker = significantUpdate({ threshold: 0.5 });
    const server = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0, 1]);
    roundTripPull([worker], [server], 0, keys, new Float64Array([1, 2]));
    server.encode(pullResponse(1, new Float64Array([5, 2])), toWorker(keys)); // never arrives
    const wire = server.encode(pullResponse(2, new Float64Array([5, 2.1])), toWorker(keys));
    // Key 0 was sent in the lost response only: the worker must not fill in its stale 1.
    expect(() => worker.decode(wire, toServer(keys))).toThrow(PsErrorCode.MESSAGE_INVALID);
    const next = roundTripPull([worker], [server], 3, keys, new Float64Array([5, 2.1]));
    expect([...(next.back.data[0] as Float64Array)]).toEqual([5, 2.1]);
  });

  it('a server that answers with an error (its response may not have left) sends everything next', () => {
    const worker = significantUpdate({ threshold: 0.5 });
    const server = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0, 1]);
    roundTripPull([worker], [server], 0, keys, new Float64Array([1, 2]));
    const error: Message = {
      meta: { ...pullResponse(1, new Float64Array(0)).meta, error: { code: 'PS_ERR_HANDLER', message: 'x' } },
      data: [],
    };
    expect(server.encode(error, toWorker(keys))).toBe(error);
    expect(worker.decode(error, toServer(keys))).toBe(error);
    const next = roundTripPull([worker], [server], 2, keys, new Float64Array([1.1, 2]));
    expect(next.wire.meta.filters?.significant).toMatchObject({ n: 2, fresh: 2 });
    expect([...(next.back.data[0] as Float64Array)]).toEqual([1.1, 2]);
  });

  it('leaves pull requests, push responses, lens responses and untracked responses as they are', () => {
    const f = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0, 1]);
    const pushResponse: Message = { ...pullResponse(0, new Float32Array(0)), data: [] };
    pushResponse.meta = { ...pushResponse.meta, push: true, pull: false };
    const lensResponse: Message = {
      ...pullResponse(1, new Float32Array(3)),
      data: [new Float32Array(3), Int32Array.from([1, 2])],
    };
    const cases: [Message, BigUint64Array | undefined][] = [
      [pullRequest(0, keys), keys],
      [pushResponse, keys],
      [lensResponse, keys],
      [pullResponse(2, new Float32Array(2)), undefined],
      [pullResponse(3, new Float32Array(3)), keys], // 3 values for 2 keys
      [pullResponse(4, new Float32Array(0)), keys],
      [{ ...pullResponse(5, new Float32Array(0)), data: [new Uint8Array(8)] }, keys],
    ];
    for (const [msg, k] of cases) {
      expect(f.encode(msg, toWorker(k))).toBe(msg);
      expect(f.decode(msg, toServer(k))).toBe(msg);
    }
  });

  it('keeps apps and peers apart', () => {
    const worker = significantUpdate({ threshold: 0.5 });
    const server = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0]);
    const worker2 = significantUpdate({ threshold: 0.5 });
    const respond = (app: number, peer: string, v: number) => {
      const msg = pullResponse(0, new Float64Array([v]), app);
      const wire = server.encode(msg, { peer, keys });
      return (peer === WORKER ? worker : worker2).decode(wire, { peer: SERVER, keys }).data[0]![0];
    };
    expect(respond(0, WORKER, 1)).toBe(1);
    expect(respond(1, WORKER, 7)).toBe(7); // app 1: a new key, sent
    expect(respond(0, WORKER, 1.2)).toBe(1);
    expect(respond(0, 'worker-2', 1.2)).toBe(1.2); // another worker: a new key, sent
    expect(respond(1, WORKER, 7.2)).toBe(7);
    expect(respond(0, 'worker-2', 1.3)).toBe(1.2);
  });

  it('rejects a malformed meta or segments with a PsError (and starts over)', () => {
    const worker = significantUpdate({ threshold: 0.5 });
    const server = significantUpdate({ threshold: 0.5 });
    const keys = keysOf([0, 1, 2]);
    roundTripPull([worker], [server], 0, keys, new Float64Array([1, 2, 3]));
    const wire = server.encode(pullResponse(1, new Float64Array([1, 2, 9])), toWorker(keys));
    const m = wire.meta.filters?.significant as Record<string, unknown>;
    const withMeta = (meta: unknown, data = wire.data): Message => ({
      meta: { ...wire.meta, filters: { significant: meta } },
      data,
    });
    const cases: [Message, string][] = [
      [withMeta('x'), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...m, n: -1 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...m, fresh: 4 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...m, epoch: 'e' }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...m, seq: 2 ** 32 }), PsErrorCode.MESSAGE_INVALID],
      [withMeta({ ...m, fresh: 2 }), PsErrorCode.FRAME_MALFORMED], // bitmap marks 1
      [withMeta(m, [wire.data[0]!]), PsErrorCode.FRAME_MALFORMED],
      [withMeta(m, [new Float64Array(2), wire.data[1]!]), PsErrorCode.FRAME_MALFORMED],
      [withMeta(m, [wire.data[0]!, new Uint8Array(3)]), PsErrorCode.FRAME_MALFORMED],
      [withMeta({ ...m, n: 4 }, [new Float64Array(4), new Uint8Array([1])]), PsErrorCode.MESSAGE_INVALID],
      [
        { ...withMeta(m), meta: { ...withMeta(m).meta, pull: false, push: true } },
        PsErrorCode.MESSAGE_INVALID,
      ],
    ];
    for (const [msg, code] of cases) {
      let err: unknown;
      try {
        worker.decode(msg, toServer(keys));
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, code as PsErrorCode), `${String(err)}`).toBe(true);
    }
    let err: unknown;
    try {
      server.decode(
        {
          ...pullRequest(2, keys),
          meta: { ...pullRequest(2, keys).meta, filters: { significant: { epoch: -1 } } },
        },
        toWorker(keys),
      );
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.MESSAGE_INVALID)).toBe(true);
    // After all that, the two ends resynchronize on the next pull.
    const next = roundTripPull([worker], [server], 3, keys, new Float64Array([1, 2, 9]));
    expect([...(next.back.data[0] as Float64Array)]).toEqual([1, 2, 9]);
  });

  it('keeps pulled values within threshold plus quantization through quantize and lz4, both orders', () => {
    fc.assert(
      fc.property(
        pullSeqArb,
        fc.constantFrom('quantize,lz4' as const, 'lz4,quantize' as const),
        (s, order) => {
          const chainOf = (seed: number): Filter[] => {
            const sig = significantUpdate({ threshold: s.threshold, flushEvery: s.flushEvery });
            return order === 'quantize,lz4'
              ? [sig, quantize({ bits: 16, seed }), lz4({ minBytes: 0 })]
              : [sig, lz4({ minBytes: 0 }), quantize({ bits: 16, seed })];
          };
          const worker = chainOf(1);
          const server = chainOf(2);
          const w = s.width;
          const truth = new Float64Array(UNIVERSE * w);
          truth.set(randomVals(truth.length, 'f64', 1, 7));
          let maxStep = 0;
          s.steps.forEach((step, i) => {
            const rnd = seededRandom(step.seed);
            for (const id of step.change)
              for (let j = 0; j < w; j++) truth[id * w + j]! += (rnd() * 2 - 1) * step.scale;
            const ids = [...step.pull].sort((a, b) => a - b);
            const vals = new Float64Array(ids.length * w);
            for (const [k, id] of ids.entries()) vals.set(truth.subarray(id * w, (id + 1) * w), k * w);
            const { wire, back } = roundTripPull(worker, server, i, keysOf(ids), vals, step.whole);
            const q = wire.meta.filters?.quantize as Extract<QuantizeMeta, { step: number }> | undefined;
            maxStep = Math.max(maxStep, q?.step ?? 0);
            const dec = back.data[0] as Float64Array;
            for (let p = 0; p < vals.length; p++) {
              expect(Math.abs(dec[p]! - vals[p]!)).toBeLessThanOrEqual(s.threshold + maxStep * (1 + 1e-9));
            }
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('significantUpdate, contract', () => {
  it('states its name, signature, lossiness and error bound', () => {
    const f = significantUpdate({ threshold: 0.001, flushEvery: 10 });
    expect(f.name).toBe('significant');
    expect(f.signature).toBe('significant:0.001');
    expect(significantUpdate({ threshold: 0 }).signature).toBe('significant:0');
    expect(f.lossless).toBe(false);
    expect(f.errorBound).toContain('push: none over time (residuals are kept and sent later, or flushed)');
    expect(f.errorBound).toContain("pull: each value within threshold of the server's");
  });

  it('rejects bad options with PS_ERR_CONFIG', () => {
    for (const opts of [
      { threshold: -1 },
      { threshold: Number.NaN },
      { threshold: Number.POSITIVE_INFINITY },
      { threshold: '1' },
      { threshold: 1, flushEvery: 0 },
      { threshold: 1, flushEvery: 1.5 },
    ]) {
      let err: unknown;
      try {
        significantUpdate(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG), JSON.stringify(opts)).toBe(true);
    }
  });

  it('counts bytes through encodeChain', () => {
    const f = significantUpdate({ threshold: 1 });
    const keys = keysOf([0, 1, 2]);
    const msg = pushMsg(0, keys, new Float32Array([0.5, 2, 0.1]));
    encodeChain([f], msg, toServer(keys));
    expect(f.stats).toEqual({ messages: 1, bytesIn: 24 + 12, bytesOut: 24 + 12 });
  });
});
