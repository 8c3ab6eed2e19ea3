// A server's reply to a range pull request: refused with PS_ERR_WRONG_OWNER for a part it does not
// own or a request cut by an older ring, PS_ERR_RANGE_INVALID for a malformed meta.range, and
// `[vals, lens, keys]` within the frame budget otherwise.
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { sumHandler } from '../handlers/sum-handler.js';
import { Ring } from '../membership/ring.js';
import { KEY_SPACE_END } from '../wire/key-range.js';
import type { Message } from '../wire/message.js';
import { rangeAnswerFromWire } from './range-page.js';
import { rangeRequestToWire } from './range-request.js';
import { sliceRanges } from './range-slices.js';
import { serveRange } from './serve-range.js';

const ring = Ring.create(['a', 'b']);
const parts = sliceRanges(ring, [{ begin: 0n, end: KEY_SPACE_END }]);
const request = (range: unknown, ringVersion = ring.version): Message => ({
  meta: {
    sender: 'w',
    recipient: 'a',
    app: 0,
    ts: 3,
    request: true,
    push: false,
    pull: true,
    ring: ringVersion,
    range,
  },
  data: [],
});
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return isPsError(err) ? err.code : 'not a PsError';
  }
  return undefined;
};

describe('serveRange', () => {
  const h = sumHandler();
  const keys = BigUint64Array.from({ length: 1024 }, (_, i) => BigInt(i) << 54n);
  h({
    sender: 'w',
    app: 0,
    ts: 0,
    push: true,
    pull: false,
    kv: { keys, vals: Float32Array.from(keys, (_, i) => i) },
  });
  const mine = h.table.size; // one table stands in for server a's

  it('answers its own parts with [vals, lens, keys] and next', () => {
    const ranges = parts.get('a')!;
    const reply = serveRange(request(rangeRequestToWire(ranges, { limit: 5 })), h, ring, 'a', 1 << 20);
    const a = rangeAnswerFromWire(reply.data, reply.range, 'a');
    const inA = Array.from(keys).filter((k) => ranges.some((r) => k >= r.begin && k < r.end));
    expect(inA.length).toBeGreaterThan(5);
    expect(Array.from(a.keys)).toEqual(inA.slice(0, 5));
    expect(Array.from(a.vals)).toEqual(inA.slice(0, 5).map((k) => Number(k >> 54n)));
    expect(a.next).toBe(inA[5]);
    expect(mine).toBe(1024);
  });

  it('refuses a part of another server, and a request cut by an older ring, with PS_ERR_WRONG_OWNER', () => {
    const theirs = rangeRequestToWire(parts.get('b')!, {});
    expect(codeOf(() => serveRange(request(theirs), h, ring, 'a', 1 << 20))).toBe(PsErrorCode.WRONG_OWNER);
    const newer = ring.withServer('c');
    const old = rangeRequestToWire(sliceRanges(newer, [{ begin: 0n, end: KEY_SPACE_END }]).get('a')!, {});
    expect(codeOf(() => serveRange(request(old, ring.version), h, newer, 'a', 1 << 20))).toBe(
      PsErrorCode.WRONG_OWNER,
    );
  });

  it('refuses a malformed meta.range with PS_ERR_RANGE_INVALID', () => {
    for (const bad of [
      undefined,
      {},
      { r: [[1, 2]] },
      { r: [['5', '4']] },
      { r: [['0', '18446744073709551617']] },
      { r: [['0', '9']], limit: -1 },
    ]) {
      expect(codeOf(() => serveRange(request(bad), h, ring, 'a', 1 << 20))).toBe(PsErrorCode.RANGE_INVALID);
    }
  });

  it('keeps an unpaged answer under the frame limit, or refuses it with PS_ERR_RANGE_TOO_LARGE', () => {
    const all = rangeRequestToWire(parts.get('a')!, {});
    expect(codeOf(() => serveRange(request(all), h, ring, 'a', 4096 + 100))).toBe(
      PsErrorCode.RANGE_TOO_LARGE,
    );
    const paged = rangeRequestToWire(parts.get('a')!, { limit: 1000 });
    const reply = serveRange(request(paged), h, ring, 'a', 4096 + 100);
    // The budget's floor, 1,024 bytes, at 16 bytes a key (8 key, 4 length, 4 value): 64 keys.
    const a = rangeAnswerFromWire(reply.data, reply.range, 'a');
    expect(a.keys.length).toBe(64);
    expect(a.next).toBeDefined();
  });
});
