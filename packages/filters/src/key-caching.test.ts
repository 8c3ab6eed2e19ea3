import {
  decodeChain,
  decodeFrame,
  encodeChain,
  encodeFrame,
  type Filter,
  type FilterContext,
  isPsError,
  type Message,
  type PsError,
  PsErrorCode,
  seededRandom,
  segmentBytes,
} from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeyCachingMeta, keyCaching, keyListSignature } from './key-caching.js';
import { lz4 } from './lz4.js';
import { quantize } from './quantize.js';
import { cloneMessage, fillValues, fixedViolation, messageDiff } from './test-messages.js';
import { filtersReady } from './xxh64.js';

// This file imports key-caching.js itself, not the package's ESM entry that awaits the hash.
await filtersReady;

const WORKER = 'worker-1';
const SERVER = 'server-1';
/** The worker encodes with the server as peer; the server decodes with the worker as peer. */
const toServer: FilterContext = { peer: SERVER };
const fromWorker: FilterContext = { peer: WORKER };
const toWorker: FilterContext = { peer: WORKER };
const fromServer: FilterContext = { peer: SERVER };

/** A sorted key list of n keys drawn from a seed. */
function keyList(n: number, seed: number): BigUint64Array {
  const rnd = seededRandom(seed);
  const keys = new BigUint64Array(n);
  let k = BigInt(seed) << 20n;
  for (let i = 0; i < n; i++) {
    k += 1n + BigInt(Math.floor(rnd() * 1000));
    keys[i] = k;
  }
  return keys;
}

type Kind = 'push' | 'pull' | 'push-pull' | 'push-lens';

/** A request of a kind over `keys` (a fresh copy of them), with values of a seed. */
function request(keys: BigUint64Array, kind: Kind, seed: number, ts = 1): Message {
  const meta = {
    sender: WORKER,
    recipient: SERVER,
    app: 2,
    ts,
    request: true,
    push: kind !== 'pull',
    pull: kind === 'pull' || kind === 'push-pull',
  };
  if (kind === 'pull') return { meta, data: [keys.slice()] };
  const vals = new Float32Array(keys.length * 2);
  fillValues(vals, 'dense', 1, seed);
  if (kind === 'push-lens') return { meta, data: [keys.slice(), vals, new Int32Array(keys.length).fill(2)] };
  return { meta, data: [keys.slice(), vals] };
}

/** The answer a node gives to a request its filters could not decode (PsNode.onUndecodable). */
function errorResponse(req: Message, err: PsError): Message {
  const { app, ts, push, pull } = req.meta;
  return {
    meta: { sender: SERVER, recipient: WORKER, app, ts, request: false, push, pull, error: err.toWire() },
    data: [],
  };
}

/** A plain response to a pull of n values. */
function pullResponse(n: number): Message {
  return {
    meta: { sender: SERVER, recipient: WORKER, app: 2, ts: 1, request: false, push: false, pull: true },
    data: [new Float32Array(n)],
  };
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** A sender and a receiver chain over the wire (frame encode and decode between them). */
function trip(sender: Filter[], receiver: Filter[], msg: Message): { wire: Message; back: Message } {
  const wire = encodeChain(sender, msg, toServer);
  const back = decodeChain(receiver, decodeFrame(encodeFrame(wire)), fromWorker);
  return { wire, back };
}

/** The worker sees the server's KEY_CACHE_MISS answer to `req` (through both chains). */
function answerMiss(sender: Filter[], receiver: Filter[], req: Message, err: unknown): void {
  expect(isPsError(err, PsErrorCode.KEY_CACHE_MISS), String(err)).toBe(true);
  const resp = encodeChain(receiver, errorResponse(req, err as PsError), toWorker);
  decodeChain(sender, decodeFrame(encodeFrame(resp)), fromServer);
}

function metaOf(m: Message): KeyCachingMeta | undefined {
  return m.meta.filters?.keyCaching as KeyCachingMeta | undefined;
}

describe('keyCaching', () => {
  it('round-trips random sequences of repeating and new key lists exactly, and names a list once sent', () => {
    const op = fc.record({
      list: fc.integer({ min: 0, max: 11 }), // lists 0..7 repeat; 8..11 are new each time
      kind: fc.constantFrom<Kind>('push', 'pull', 'push-pull', 'push-lens'),
      seed: fc.integer({ min: 0, max: 0xffff }),
    });
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(1, 3, 4096),
        fc.constantFrom(1024, 64 * 1024 * 1024),
        (ops, capacity, maxBytes) => {
          // Pool sizes straddle minKeys (16) and maxBytes 1024 (128 keys).
          const sizes = [0, 1, 15, 16, 17, 100, 128, 129];
          const pool = sizes.map((n, i) => keyList(n, i + 1));
          const worker = keyCaching({ capacity, maxBytes });
          const server = keyCaching({ capacity, maxBytes });
          let fresh = 1000;
          const sent = new Set<string>();
          for (const [step, o] of ops.entries()) {
            const keys = o.list < pool.length ? pool[o.list]! : keyList(16 + (o.list % 4) * 40, fresh++);
            const msg = request(keys, o.kind, o.seed, step);
            const before = cloneMessage(msg);
            const { wire, back } = trip([worker], [server], msg);
            expect(messageDiff(msg, before)).toBe('');
            expect(messageDiff(back, msg)).toBe('');
            const m = metaOf(wire);
            const cachable = keys.length >= 16 && keys.byteLength <= maxBytes;
            if (!cachable) {
              expect(wire).toBe(msg);
              continue;
            }
            const id = keyListSignature(keys);
            expect(m).toEqual(
              m?.store ? { sig: id, n: keys.length, store: true } : { sig: id, n: keys.length },
            );
            if (capacity === 4096 && maxBytes > 1e6) {
              // Nothing is evicted: a list is named by signature exactly when it was sent before.
              expect(m?.store === undefined).toBe(sent.has(id));
            }
            if (m?.store === undefined) expect(wire.data[0]).toEqual(new BigUint64Array(0));
            else expect(wire.data[0]).toBe(msg.data[0]);
            sent.add(id);
          }
          // With equal options the sender's mirror never names a list the receiver evicted.
          expect(server.stats.misses).toBe(0);
          expect(server.stats.hits).toBe(worker.stats.sentRef);
          expect(server.stats.stored).toBe(worker.stats.sentStore);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('sends a list once, then only its signature: bytes saved and stats', () => {
    const worker = keyCaching();
    const server = keyCaching();
    const keys = keyList(1000, 7);
    const first = trip([worker], [server], request(keys, 'pull', 1));
    expect(metaOf(first.wire)).toEqual({ sig: keyListSignature(keys), n: 1000, store: true });
    expect(worker.stats.bytesOut).toBe(worker.stats.bytesIn); // the first send saves nothing
    const second = trip([worker], [server], request(keys, 'pull', 1));
    expect(metaOf(second.wire)).toEqual({ sig: keyListSignature(keys), n: 1000 });
    expect(second.wire.data[0]).toEqual(new BigUint64Array(0));
    expect(messageDiff(second.back, request(keys, 'pull', 1))).toBe('');
    const push = trip([worker], [server], request(keys, 'push', 2));
    expect(push.wire.data[0]!.byteLength).toBe(0);
    expect(push.wire.data[1]).toBeInstanceOf(Float32Array);
    expect(messageDiff(push.back, request(keys, 'push', 2))).toBe('');
    // 8000 bytes of keys stayed home twice.
    expect(worker.stats.bytesIn - worker.stats.bytesOut).toBe(2 * 8000);
    expect(worker.stats).toMatchObject({ messages: 3, sentStore: 1, sentRef: 2 });
    expect(server.stats).toMatchObject({ stored: 1, hits: 2, misses: 0, evictions: 0 });
    // The same list to another server travels again: the mirror is per peer.
    const other = encodeChain([worker], request(keys, 'pull', 1), { peer: 'server-2' });
    expect(metaOf(other)?.store).toBe(true);
    // So does the same list from another worker to this server.
    const worker2 = keyCaching();
    expect(metaOf(encodeChain([worker2], request(keys, 'pull', 1), toServer))?.store).toBe(true);
  });

  it('lets short lists, responses and keys that are not a BigUint64Array pass as they are', () => {
    const f = keyCaching();
    for (const m of [
      request(keyList(15, 1), 'push', 1),
      request(new BigUint64Array(0), 'pull', 1),
      pullResponse(100),
      { ...request(keyList(100, 1), 'pull', 1), data: [new Uint8Array(800)] },
    ]) {
      for (let i = 0; i < 2; i++) {
        expect(f.encode(m, toServer)).toBe(m);
        expect(f.decode(m, fromWorker)).toBe(m);
      }
    }
    expect(
      keyCaching({ minKeys: 200 }).encode(request(keyList(199, 1), 'pull', 1), toServer).meta.filters,
    ).toBe(undefined);
    expect(
      keyCaching({ maxBytes: 800 }).encode(request(keyList(101, 1), 'pull', 1), toServer).meta.filters,
    ).toBe(undefined);
  });

  it('keeps other filters entries of meta.filters', () => {
    const worker = keyCaching();
    const server = keyCaching();
    const keys = keyList(50, 3);
    const msg = request(keys, 'pull', 1);
    const withOther: Message = { ...msg, meta: { ...msg.meta, filters: { other: { a: 1 } } } };
    for (let i = 0; i < 2; i++) {
      const wire = worker.encode(withOther, toServer);
      expect(wire.meta.filters).toMatchObject({ other: { a: 1 } });
      expect(server.decode(wire, fromWorker).meta.filters).toEqual({ other: { a: 1 } });
    }
  });

  it('repairs a receiver that lost its cache: KEY_CACHE_MISS, the sender forgets, the resend carries keys', () => {
    const worker = keyCaching();
    let server = keyCaching();
    const a = keyList(300, 1);
    const b = keyList(40, 2);
    trip([worker], [server], request(a, 'pull', 1));
    trip([worker], [server], request(b, 'pull', 1));
    encodeChain([worker], request(a, 'pull', 1), { peer: 'server-2' }); // another server
    server = keyCaching(); // the server restarted
    const req = request(a, 'push', 5, 9);
    const wire = encodeChain([worker], req, toServer);
    expect(wire.data[0]!.byteLength).toBe(0);
    const err = errorOf(() => decodeChain([server], decodeFrame(encodeFrame(wire)), fromWorker));
    expect(isPsError(err, PsErrorCode.KEY_CACHE_MISS)).toBe(true);
    expect((err as PsError).details).toMatchObject({ peer: WORKER, sig: keyListSignature(a), n: 300 });
    expect(server.stats.misses).toBe(1);
    // A response of another kind changes nothing.
    decodeChain([worker], pullResponse(10), fromServer);
    expect(worker.stats.resets).toBe(0);
    answerMiss([worker], [server], req, err);
    expect(worker.stats.resets).toBe(1);
    // The resend, and the next request of another list, carry their keys; then names work again.
    for (const keys of [a, b]) {
      const resend = trip([worker], [server], request(keys, 'push', 5, 9));
      expect(metaOf(resend.wire)?.store).toBe(true);
      expect(messageDiff(resend.back, request(keys, 'push', 5, 9))).toBe('');
    }
    const again = trip([worker], [server], request(a, 'pull', 1));
    expect(again.wire.data[0]!.byteLength).toBe(0);
    expect(messageDiff(again.back, request(a, 'pull', 1))).toBe('');
    // What the worker believes of another server is untouched.
    expect(encodeChain([worker], request(a, 'pull', 1), { peer: 'server-2' }).data[0]!.byteLength).toBe(0);
  });

  it('evicts the least recently used list, and a sender with larger bounds is repaired by a miss', () => {
    // Equal options: the mirror evicts what the receiver evicts, so no miss.
    const lists = [1, 2, 3].map((s) => keyList(20, s));
    {
      const worker = keyCaching({ capacity: 2 });
      const server = keyCaching({ capacity: 2 });
      for (const keys of [lists[0]!, lists[1]!, lists[0]!, lists[2]!])
        trip([worker], [server], request(keys, 'pull', 1));
      // lists[1] was least recently used when lists[2] came: evicted at both ends.
      expect(server.stats.evictions).toBe(1);
      const l1 = trip([worker], [server], request(lists[1]!, 'pull', 1));
      expect(metaOf(l1.wire)?.store).toBe(true);
      const l2 = trip([worker], [server], request(lists[2]!, 'pull', 1));
      expect(metaOf(l2.wire)?.store).toBe(undefined);
      expect(server.stats.misses).toBe(0);
    }
    // The receiver keeps fewer lists than the sender believes: miss, then repair.
    const worker = keyCaching({ capacity: 10 });
    const server = keyCaching({ capacity: 2 });
    for (const keys of lists) trip([worker], [server], request(keys, 'pull', 1));
    const req = request(lists[0]!, 'pull', 1, 4);
    const err = errorOf(() => trip([worker], [server], req));
    answerMiss([worker], [server], req, err);
    const resend = trip([worker], [server], req);
    expect(metaOf(resend.wire)?.store).toBe(true);
    expect(messageDiff(resend.back, req)).toBe('');
    expect(trip([worker], [server], req).wire.data[0]!.byteLength).toBe(0);
  });

  it('bounds the bytes cached per peer', () => {
    // 100 keys = 800 bytes; at most 2000 bytes per peer: two lists fit, a third evicts the oldest.
    const worker = keyCaching({ maxBytes: 2000 });
    const server = keyCaching({ maxBytes: 2000 });
    const [a, b, c] = [1, 2, 3].map((s) => keyList(100, s)) as [
      BigUint64Array,
      BigUint64Array,
      BigUint64Array,
    ];
    for (const keys of [a, b, c]) trip([worker], [server], request(keys, 'pull', 1));
    expect(server.stats.evictions).toBe(1);
    expect(metaOf(trip([worker], [server], request(a, 'pull', 1)).wire)?.store).toBe(true); // evicted
    expect(metaOf(trip([worker], [server], request(c, 'pull', 1)).wire)?.store).toBe(undefined);
    // A list larger than maxBytes is never cached: it travels as it is.
    const big = request(keyList(251, 4), 'pull', 1);
    expect(trip([worker], [server], big).wire).toBe(big);
    expect(server.stats.misses).toBe(0);
  });

  it('refuses a store whose keys do not match its signature, and caches nothing from it', () => {
    const worker = keyCaching();
    const server = keyCaching();
    const keys = keyList(64, 5);
    const wire = encodeChain([worker], request(keys, 'pull', 1), toServer);
    const m = metaOf(wire)!;
    const forged = (data0: BigUint64Array, meta: unknown = m): Message => ({
      meta: { ...wire.meta, filters: { keyCaching: meta } },
      data: [data0],
    });
    const poisoned = keys.slice();
    poisoned[7] = 123n;
    const other = keyList(64, 6);
    for (const f of [
      forged(poisoned), // same count, one key changed
      forged(other), // another list under this list's name
      forged(keys.subarray(1)), // one key short
      forged(keys, { ...m, n: 65 }), // right keys, wrong count
      forged(keys, { ...m, sig: keyListSignature(other) }), // right keys, another name
    ]) {
      const err = errorOf(() => server.decode(decodeFrame(encodeFrame(f)), fromWorker));
      expect(isPsError(err, PsErrorCode.MESSAGE_INVALID), String(err)).toBe(true);
    }
    expect(server.stats.stored).toBe(0);
    // The name was not filed: asking for it by signature misses.
    const ref = forged(new BigUint64Array(0), { sig: m.sig, n: m.n });
    expect(
      isPsError(
        errorOf(() => server.decode(ref, fromWorker)),
        PsErrorCode.KEY_CACHE_MISS,
      ),
    ).toBe(true);
    // The genuine store works, then the name restores the genuine keys.
    expect(messageDiff(server.decode(wire, fromWorker), request(keys, 'pull', 1))).toBe('');
    expect(server.decode(ref, fromWorker).data[0]).toEqual(keys);
  });

  it('throws PS_ERR_MESSAGE_INVALID or PS_ERR_FRAME_MALFORMED for malformed input', () => {
    const f = keyCaching();
    const keys = keyList(32, 1);
    const sig = keyListSignature(keys);
    const req = request(keys, 'pull', 1);
    const withMeta = (meta: unknown, data = req.data, request = true): Message => ({
      meta: { ...req.meta, request, filters: { keyCaching: meta } },
      data,
    });
    for (const meta of [
      'x',
      null,
      [sig, 32],
      { sig: 'abc', n: 32 },
      { sig: sig.toUpperCase(), n: 32 },
      { sig, n: 0 },
      { sig, n: 1.5 },
      { sig, n: '32' },
      { sig, n: 32, store: false },
      { sig, n: 32, store: 1 },
    ]) {
      const err = errorOf(() => f.decode(withMeta(meta), fromWorker));
      expect(isPsError(err, PsErrorCode.MESSAGE_INVALID), `${JSON.stringify(meta)}: ${String(err)}`).toBe(
        true,
      );
    }
    // On a response.
    const onResponse = errorOf(() => f.decode(withMeta({ sig, n: 32 }, [], false), fromServer));
    expect(isPsError(onResponse, PsErrorCode.MESSAGE_INVALID)).toBe(true);
    for (const data of [[new Uint8Array(256)], [], [keys]]) {
      const err = errorOf(() => f.decode(withMeta({ sig, n: 32 }, data), fromWorker));
      expect(isPsError(err, PsErrorCode.FRAME_MALFORMED), String(err)).toBe(true);
    }
    const noKeys = errorOf(() => f.decode(withMeta({ sig, n: 32, store: true }, []), fromWorker));
    expect(isPsError(noKeys, PsErrorCode.FRAME_MALFORMED), String(noKeys)).toBe(true);
  });

  it('never mutates its input, nor hands out its cached arrays', () => {
    const worker = keyCaching();
    const server = keyCaching();
    const keys = keyList(40, 8);
    trip([worker], [server], request(keys, 'pull', 1));
    const wire = encodeChain([worker], request(keys, 'pull', 1), toServer);
    const wireCopy = cloneMessage(wire);
    const back = server.decode(wire, fromWorker);
    expect(messageDiff(wire, wireCopy)).toBe('');
    (back.data[0] as BigUint64Array).fill(0n); // the handler scribbles on its keys
    expect(server.decode(wire, fromWorker).data[0]).toEqual(keys);
  });

  it('forgets a peer on request', () => {
    const worker = keyCaching();
    const server = keyCaching();
    const keys = keyList(40, 9);
    trip([worker], [server], request(keys, 'pull', 1));
    server.forgetPeer(WORKER);
    const wire = encodeChain([worker], request(keys, 'pull', 1), toServer);
    expect(
      isPsError(
        errorOf(() => server.decode(wire, fromWorker)),
        PsErrorCode.KEY_CACHE_MISS,
      ),
    ).toBe(true);
    worker.forgetPeer(SERVER);
    expect(metaOf(encodeChain([worker], request(keys, 'pull', 1), toServer))?.store).toBe(true);
  });

  it('hashes with XXH64, seed 0, over the keys bytes', () => {
    expect(keyListSignature(new BigUint64Array(0))).toBe('ef46db3751d8e999'); // the reference value
    const keys = keyList(1000, 1);
    expect(keyListSignature(keys)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyListSignature(keys)).toBe(keyListSignature(keys.slice()));
    // A view at an offset hashes its own bytes only.
    const bigger = new BigUint64Array(1002);
    bigger.set(keys, 1);
    expect(keyListSignature(bigger.subarray(1, 1001))).toBe(keyListSignature(keys));
    const changed = keys.slice();
    changed[999]! ^= 1n;
    expect(keyListSignature(changed)).not.toBe(keyListSignature(keys));
  });

  it('states its name, signature and that it is lossless; rejects bad options with PS_ERR_CONFIG', () => {
    const f = keyCaching();
    expect(f.name).toBe('keyCaching');
    expect(f.signature).toBe('key-caching');
    expect(f.lossless).toBe(true);
    for (const o of [
      { capacity: 0 },
      { capacity: 1.5 },
      { capacity: '8' },
      { maxBytes: 4 },
      { maxBytes: Number.NaN },
      { minKeys: 0 },
      { minKeys: 2.5 },
    ]) {
      const err = errorOf(() => keyCaching(o as never));
      expect(isPsError(err, PsErrorCode.CONFIG), JSON.stringify(o)).toBe(true);
    }
  });
});

describe('keyCaching in a chain with quantize and lz4', () => {
  const ORDERS = [
    'keyCaching,quantize,lz4', // recommended
    'quantize,keyCaching,lz4',
    'keyCaching,lz4,quantize',
    'lz4,keyCaching,quantize', // lz4 compresses big key lists first: keyCaching sees bytes and passes
    'quantize,lz4,keyCaching',
  ] as const;
  type Order = (typeof ORDERS)[number];
  const chainOf = (order: Order): Filter[] =>
    order
      .split(',')
      .map((name) =>
        name === 'keyCaching'
          ? keyCaching()
          : name === 'quantize'
            ? quantize({ bits: 8, seed: 3 })
            : lz4({ minBytes: 512 }),
      );

  it('round-trips keys and lens exactly, values within the quantize bound, in every order', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ORDERS),
        fc.array(
          fc.record({
            list: fc.integer({ min: 0, max: 5 }),
            kind: fc.constantFrom<Kind>('push', 'pull', 'push-lens'),
            seed: fc.integer({ min: 0, max: 0xffff }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (order, ops) => {
          // 20 keys (160 bytes, below lz4's minBytes) up to 2000 keys (16 kB).
          const pool = [20, 50, 63, 64, 500, 2000].map((n, i) => keyList(n, i + 40));
          const sender = chainOf(order);
          const receiver = chainOf(order);
          for (const o of ops) {
            const msg = request(pool[o.list]!, o.kind, o.seed);
            const before = cloneMessage(msg);
            const { wire, back } = trip(sender, receiver, msg);
            expect(messageDiff(msg, before)).toBe('');
            expect(JSON.stringify(back.meta)).toBe(JSON.stringify(msg.meta));
            expect(back.data.length).toBe(msg.data.length);
            for (let i = 0; i < msg.data.length; i++) {
              if (i === 1) {
                const x = msg.data[1] as Float32Array;
                expect(fixedViolation(x, back.data[1] as Float32Array, 8)).toBe('');
              } else {
                expect(back.data[i]).toEqual(msg.data[i]);
              }
            }
            const kc = metaOf(wire);
            const keysBytes = msg.data[0]!.byteLength;
            if (order.startsWith('lz4') && keysBytes >= 512) expect(kc).toBeUndefined(); // lz4 got there first
          }
          const kc = sender.find((f) => f.name === 'keyCaching')!;
          const rc = receiver.find((f) => f.name === 'keyCaching')! as ReturnType<typeof keyCaching>;
          expect(rc.stats.misses).toBe(0);
          expect(rc.stats.hits).toBe((kc as ReturnType<typeof keyCaching>).stats.sentRef);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('saves the keys bytes when placed before lz4, and nothing on big lists when placed after', () => {
    const keys = keyList(5000, 11);
    const wireBytes = (order: Order): number => {
      const sender = chainOf(order);
      const receiver = chainOf(order);
      trip(sender, receiver, request(keys, 'pull', 1));
      return segmentBytes(trip(sender, receiver, request(keys, 'pull', 1)).wire.data);
    };
    expect(wireBytes('keyCaching,quantize,lz4')).toBe(0);
    const after = wireBytes('lz4,keyCaching,quantize');
    expect(after).toBeGreaterThan(1000); // lz4 shrinks sorted keys, but they still travel
    expect(after).toBeLessThan(keys.byteLength);
  });
});
