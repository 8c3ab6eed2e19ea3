import { describe, expect, it } from 'vitest';
import { sumHandler } from '../handlers/sum-handler.js';
import { tableHandler } from '../handlers/table-handler.js';
import type { KVRequest } from '../kv-server.js';
import { largeBufferPool } from '../wire/large-buffer-pool.js';
import type { Message } from '../wire/message.js';
import { markOwnedFrame } from '../wire/owned-frame.js';
import { forwardsOf, releasablePushFrame } from './push-frame-release.js';

/** A push whose values lie in a pooled frame the message owns; keys elsewhere unless `keysInFrame`. */
function pushIn(keysInFrame = false): { msg: Message; req: KVRequest; frame: Uint8Array } {
  const n = 20_000;
  const frame = largeBufferPool.take(n * 12 + 64);
  const vals = new Float32Array(frame.buffer, 64, n);
  const keys = keysInFrame
    ? new BigUint64Array(frame.buffer, 64 + n * 4, n)
    : BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const msg: Message = { meta: { ts: 1 } as Message['meta'], data: [keys, vals] };
  markOwnedFrame(msg, frame, undefined);
  const req: KVRequest = { sender: 'worker-1', app: 0, ts: 1, push: true, pull: false, kv: { keys, vals } };
  return { msg, req, frame };
}

describe('releasablePushFrame', () => {
  it('gives the frame of a first push to a built-in table handler, its keys elsewhere', () => {
    const { msg, req, frame } = pushIn();
    expect(releasablePushFrame(msg, req, {}, sumHandler(), false)).toBe(frame.buffer);
  });

  it('keeps it for a resend, in sync mode, for a pull, with the keys in the frame, or another handler', () => {
    const { msg, req } = pushIn();
    const sum = sumHandler();
    expect(releasablePushFrame(msg, req, { apply: null }, sum, false)).toBeUndefined();
    expect(releasablePushFrame(msg, req, { waits: [] }, sum, false)).toBeUndefined();
    expect(releasablePushFrame(msg, req, {}, sum, true)).toBeUndefined();
    expect(releasablePushFrame(msg, { ...req, push: false, pull: true }, {}, sum, false)).toBeUndefined();
    const inFrame = pushIn(true);
    expect(releasablePushFrame(inFrame.msg, inFrame.req, {}, sum, false)).toBeUndefined();
    // A user handler may keep req.kv.vals; a table handler whose rule does not say it keeps no views too.
    expect(releasablePushFrame(msg, req, {}, () => undefined, false)).toBeUndefined();
    const custom = tableHandler({ name: 'mine', states: 1, apply() {}, read() {} });
    expect(releasablePushFrame(msg, req, {}, custom, false)).toBeUndefined();
    // A message that does not own its frame.
    const other: Message = { meta: msg.meta, data: msg.data };
    expect(releasablePushFrame(other, req, {}, sum, false)).toBeUndefined();
  });

  it('counts forwards as master and as a middle link', () => {
    expect(forwardsOf({ counters: { forwarded: 3, relayed: 4 } })).toBe(7);
  });
});
