import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { decodeChain, encodeChain } from './filter.js';
import { decodeFrame, encodeFrame } from './frame-codec.js';
import { cachesKeyLists, keyListReuse } from './key-list-reuse.js';
import { withLocalHint } from './local-frame.js';
import type { Message, Meta } from './message.js';

const WORKER = 'worker-1';
const SERVER = 'server-1';

function keyList(n: number, start: bigint): BigUint64Array {
  return BigUint64Array.from({ length: n }, (_, i) => start + BigInt(i * 3));
}

function pushPull(keys: BigUint64Array, ts: number, app = 0): Message {
  const vals = Float32Array.from({ length: keys.length }, (_, i) => i + ts);
  const meta = { request: true, push: true, pull: true, app, ts } as Meta;
  return { meta, data: [keys, vals] };
}

/** Worker encode, the frame codec both ways (as over a wire), server decode. */
function send(w: ReturnType<typeof keyListReuse>, s: ReturnType<typeof keyListReuse>, m: Message) {
  const wire = encodeChain([w], m, { peer: SERVER });
  const framed = decodeFrame(encodeFrame(wire));
  return { wire, got: decodeChain([s], framed, { peer: WORKER }) };
}

function missAnswer(app = 0): Message {
  const meta = {
    request: false,
    app,
    ts: 9,
    error: { code: PsErrorCode.KEY_CACHE_MISS, message: 'miss' },
  } as Meta;
  return { meta, data: [] };
}

describe('keyListReuse', () => {
  it('sends a list untouched, stores it when it repeats, then sends only a reference', () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const keys = keyList(1000, 7n);
    const first = send(w, s, pushPull(keys, 1));
    expect(first.wire.meta.filters).toBeUndefined();
    expect(first.wire.data[0]).toBe(keys);
    const second = send(w, s, pushPull(keys.slice(), 2));
    expect(second.wire.meta.filters?.keyReuse).toMatchObject({ n: 1000, store: true });
    expect((second.wire.data[0] as BigUint64Array).length).toBe(1000);
    expect(second.got.meta.filters).toBeUndefined();
    for (let ts = 3; ts < 6; ts++) {
      const m = pushPull(keys.slice(), ts);
      const r = send(w, s, m);
      const stored = second.wire.meta.filters?.keyReuse as { id: number };
      expect(r.wire.meta.filters?.keyReuse).toEqual({ id: stored.id, n: 1000 });
      expect((r.wire.data[0] as BigUint64Array).length).toBe(0);
      expect(Array.from(r.got.data[0] as BigUint64Array)).toEqual(Array.from(keys));
      expect(Array.from(r.got.data[1] as Float32Array)).toEqual(Array.from(m.data[1] as Float32Array));
      expect(r.got.meta.filters).toBeUndefined();
    }
    expect(w.stats).toMatchObject({ sentStore: 1, sentRef: 3 });
    expect(s.stats).toMatchObject({ hits: 3, misses: 0 });
  });

  it('recognises a list by content: a refilled array with other keys travels with them', () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const keys = keyList(500, 0n);
    send(w, s, pushPull(keys, 1));
    send(w, s, pushPull(keys, 2));
    keys[250] = keys[250]! + 1n; // still sorted: the step is 3
    const r = send(w, s, pushPull(keys, 3));
    expect((r.wire.data[0] as BigUint64Array).length).toBe(500);
    expect((r.got.data[0] as BigUint64Array)[250]).toBe(751n);
  });

  it("trusts the worker's validation tag instead of comparing; another tag takes the compare", () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const keys = keyList(500, 0n);
    const tagged = (ts: number, tag: number, k = keys) => {
      const m = pushPull(k, ts);
      return { ...m, data: withLocalHint(m.data.slice(), { keys: { tag, inc: 'w-inc' } }) };
    };
    send(w, s, tagged(1, 4));
    const stored = send(w, s, tagged(2, 4));
    expect(stored.wire.meta.filters?.keyReuse).toMatchObject({ store: true });
    // The same tag names the same list: a reference, with no compare. (A list changed in place
    // under its old tag would go unseen; the worker's validation never gives one such a tag.)
    const changed = keys.slice();
    changed[250] = changed[250]! + 1n;
    const trusted = send(w, s, tagged(3, 4, changed));
    expect((trusted.wire.data[0] as BigUint64Array).length).toBe(0);
    expect((trusted.got.data[0] as BigUint64Array)[250]).toBe(750n);
    // Another tag: compared, found different, sent with its keys (and stored).
    const fresh = send(w, s, tagged(4, 5, changed));
    expect(fresh.wire.meta.filters?.keyReuse).toMatchObject({ store: true });
    expect((fresh.wire.data[0] as BigUint64Array).length).toBe(500);
    expect((fresh.got.data[0] as BigUint64Array)[250]).toBe(751n);
    // Another tag of equal keys: compared, found equal, a reference.
    const equal = send(w, s, tagged(5, 6, changed.slice()));
    expect((equal.wire.data[0] as BigUint64Array).length).toBe(0);
    expect((equal.got.data[0] as BigUint64Array)[250]).toBe(751n);
    expect(w.stats).toMatchObject({ sentStore: 2, sentRef: 2 });
  });

  it('leaves short lists, responses and lists that never repeat alone', () => {
    const w = keyListReuse({ minKeys: 100 });
    const s = keyListReuse();
    const short = keyList(99, 0n);
    for (let ts = 1; ts < 4; ts++) expect(send(w, s, pushPull(short, ts)).wire.meta.filters).toBeUndefined();
    for (let ts = 1; ts < 5; ts++) {
      expect(send(w, s, pushPull(keyList(200, BigInt(ts * 1000)), ts)).wire.meta.filters).toBeUndefined();
    }
    expect(w.stats).toMatchObject({ sentStore: 0, sentRef: 0 });
  });

  it('keeps one list per app', () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const a = keyList(300, 0n);
    const b = keyList(300, 5000n);
    for (let ts = 1; ts <= 6; ts++) {
      send(w, s, pushPull(a, ts, 0));
      const r = send(w, s, pushPull(b, ts, 1));
      expect(Array.from(r.got.data[0] as BigUint64Array)).toEqual(Array.from(b));
    }
    expect(w.stats).toMatchObject({ sentStore: 2, sentRef: 8 });
  });

  it('refuses a reference it does not hold with PS_ERR_KEY_CACHE_MISS; the miss answer resets the sender', () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const keys = keyList(100, 1n);
    send(w, s, pushPull(keys, 1));
    send(w, s, pushPull(keys, 2));
    const restarted = keyListReuse();
    let err: unknown;
    try {
      send(w, restarted, pushPull(keys, 3));
    } catch (e) {
      err = e;
    }
    expect(isPsError(err) && err.code).toBe(PsErrorCode.KEY_CACHE_MISS);
    expect(restarted.stats.misses).toBe(1);
    decodeChain([w], missAnswer(), { peer: SERVER });
    expect(w.stats.resets).toBe(1);
    // The resend and the next 31 requests carry their keys as they are; then the list is stored
    // again and named by reference.
    for (let ts = 3; ts < 35; ts++) {
      const r = send(w, restarted, pushPull(keys, ts));
      expect(r.wire.meta.filters).toBeUndefined();
      expect((r.wire.data[0] as BigUint64Array).length).toBe(100);
    }
    expect(send(w, restarted, pushPull(keys, 35)).wire.meta.filters?.keyReuse).toMatchObject({ store: true });
    expect((send(w, restarted, pushPull(keys, 36)).wire.data[0] as BigUint64Array).length).toBe(0);
  });

  it('resolves a resend that names an older list, overtaken by newer stores', () => {
    const w = keyListReuse();
    const s = keyListReuse();
    const a = keyList(100, 0n);
    send(w, s, pushPull(a, 1));
    send(w, s, pushPull(a, 2));
    const ref = encodeChain([w], pushPull(a, 3), { peer: SERVER }); // a reference to a, in flight
    for (let j = 1; j <= 3; j++) {
      const b = keyList(100, BigInt(j) * 10_000n);
      send(w, s, pushPull(b, 3 + 2 * j));
      send(w, s, pushPull(b, 4 + 2 * j)); // stored: a is no longer the latest
    }
    const late = decodeChain([s], decodeFrame(encodeFrame(ref)), { peer: WORKER });
    expect(Array.from(late.data[0] as BigUint64Array)).toEqual(Array.from(a));
  });

  it('rejects malformed meta and segments with stable codes', () => {
    const s = keyListReuse();
    const keys = keyList(100, 1n);
    const bad = (filters: unknown, seg: BigUint64Array | Float32Array = new BigUint64Array(0)) => {
      const meta = {
        request: true,
        push: false,
        pull: true,
        app: 0,
        ts: 1,
        filters: { keyReuse: filters },
      } as unknown as Meta;
      try {
        decodeChain([s], { meta, data: [seg] }, { peer: WORKER });
      } catch (e) {
        return isPsError(e) ? e.code : 'not a PsError';
      }
      return 'accepted';
    };
    expect(bad('x')).toBe(PsErrorCode.MESSAGE_INVALID);
    expect(bad({ id: -1, n: 3 })).toBe(PsErrorCode.MESSAGE_INVALID);
    expect(bad({ id: 1, n: 0 })).toBe(PsErrorCode.MESSAGE_INVALID);
    expect(bad({ id: 1, n: 3, store: false })).toBe(PsErrorCode.MESSAGE_INVALID);
    expect(bad({ id: 1, n: 100, store: true }, keys.subarray(0, 99))).toBe(PsErrorCode.FRAME_MALFORMED);
    expect(bad({ id: 1, n: 100 }, keys)).toBe(PsErrorCode.FRAME_MALFORMED);
    expect(bad({ id: 1, n: 100 }, new Float32Array(0))).toBe(PsErrorCode.FRAME_MALFORMED);
    expect(bad({ id: 1, n: 100 })).toBe(PsErrorCode.KEY_CACHE_MISS);
    const resp = {
      meta: { request: false, app: 0, ts: 1, filters: { keyReuse: { id: 1, n: 1 } } } as unknown as Meta,
      data: [],
    };
    expect(() => decodeChain([s], resp, { peer: WORKER })).toThrow(/response carries/);
    expect(() => keyListReuse({ minKeys: 0 })).toThrow(/minKeys/);
    expect(() => keyListReuse({ maxSenders: 1.5 })).toThrow(/maxSenders/);
  });

  it('evicts the least recently used sender past maxSenders', () => {
    const w1 = keyListReuse();
    const w2 = keyListReuse();
    const s = keyListReuse({ maxSenders: 1 });
    const keys = keyList(100, 1n);
    const to = (w: ReturnType<typeof keyListReuse>, from: string, ts: number) =>
      decodeChain([s], decodeFrame(encodeFrame(encodeChain([w], pushPull(keys, ts), { peer: SERVER }))), {
        peer: from,
      });
    to(w1, 'w1', 1);
    to(w1, 'w1', 2); // stored at s
    to(w2, 'w2', 1);
    to(w2, 'w2', 2); // stored at s: w1's list is dropped
    expect(() => to(w1, 'w1', 3)).toThrow(/does not hold/);
  });

  it('is recognised in a chain, as is @ps/filters keyCaching', () => {
    expect(cachesKeyLists([keyListReuse()])).toBe(true);
    expect(cachesKeyLists([{ name: 'keyCaching' } as never])).toBe(true);
    expect(cachesKeyLists([])).toBe(false);
  });
});
