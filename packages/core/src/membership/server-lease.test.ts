import { describe, expect, it } from 'vitest';
import type { Message } from '../wire/message.js';
import { MAX_HELD_REQUESTS, ServerLease } from './server-lease.js';

const msg = (ts: number): Message => ({
  meta: { sender: 'w', recipient: 's', app: 0, ts, request: true, push: false, pull: true },
  data: [],
});

describe('ServerLease', () => {
  it('runs from the send time of the latest answered beat, not from when the answer came', () => {
    const l = new ServerLease();
    l.start(1000);
    expect(l.valid(500, 1499)).toBe(true);
    expect(l.valid(500, 1500)).toBe(false);
    const a = l.beat(1400);
    const b = l.beat(1600);
    // b's answer arrives first (at 2000): the lease runs from 1600.
    l.answered(b);
    expect(l.valid(500, 2099)).toBe(true);
    expect(l.valid(500, 2100)).toBe(false);
    // a older answer arriving late neither shortens nor extends it.
    l.answered(a);
    expect(l.valid(500, 2099)).toBe(true);
    // Unknown or malformed sequence numbers are ignored.
    l.answered(999);
    l.answered('1');
    expect(l.age(2100)).toBe(500);
  });

  it('holds requests in order, at most MAX_HELD_REQUESTS, and hands them over once', () => {
    const l = new ServerLease();
    for (let i = 0; i < MAX_HELD_REQUESTS; i++) expect(l.hold(msg(i))).toBe(true);
    expect(l.hold(msg(-1))).toBe(false);
    const held = l.takeHeld();
    expect(held.map((m) => m.meta.ts)).toEqual(Array.from({ length: MAX_HELD_REQUESTS }, (_, i) => i));
    expect(l.takeHeld()).toEqual([]);
  });
});
