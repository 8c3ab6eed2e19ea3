import { describe, expect, it } from 'vitest';
import type { Filter } from './filter.js';
import { largeBufferPool } from './large-buffer-pool.js';
import type { Message } from './message.js';
import { markOwnedFrame, ownedFrameOf } from './owned-frame.js';

const msg = (): Message => ({ meta: { ts: 1 } as Message['meta'], data: [] });
const filter = (retainsNoViews?: boolean): Filter => ({
  name: 'f',
  signature: 'f',
  lossless: true,
  stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
  ...(retainsNoViews === undefined ? {} : { retainsNoViews }),
  encode: (m) => m,
  decode: (m) => m,
});

describe('markOwnedFrame / ownedFrameOf', () => {
  it('marks a message decoded from a whole pooled frame, with no filters or filters that keep no views', () => {
    const frame = largeBufferPool.take(100_000);
    const a = msg();
    markOwnedFrame(a, frame, undefined);
    expect(ownedFrameOf(a)).toBe(frame.buffer);
    const b = msg();
    markOwnedFrame(b, frame, [filter(true), filter(true)]);
    expect(ownedFrameOf(b)).toBe(frame.buffer);
    expect(largeBufferPool.release(frame)).toBe(true);
  });

  it('does not mark a frame the pool did not give out, a view inside one, parts, or a chain with a filter that may keep views', () => {
    const frame = largeBufferPool.take(100_000);
    const cases: [Uint8Array | Uint8Array[], Filter[] | undefined][] = [
      [new Uint8Array(100_000), undefined],
      [frame.subarray(8), undefined],
      [[frame], undefined],
      [frame, [filter(true), filter()]],
      [frame, [filter(false)]],
    ];
    for (const [f, chain] of cases) {
      const m = msg();
      markOwnedFrame(m, f, chain);
      expect(ownedFrameOf(m)).toBeUndefined();
    }
    largeBufferPool.release(frame);
    const released = msg();
    markOwnedFrame(released, frame, undefined); // no longer out: nobody may release it again
    expect(ownedFrameOf(released)).toBeUndefined();
  });
});
