import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import { overQueueLimit, slowPeerError } from './slow-peer.js';

describe('overQueueLimit', () => {
  it('is true only when a non-empty queue would pass the limit', () => {
    expect(overQueueLimit(0, 100, 10)).toBe(false); // one frame alone always goes
    expect(overQueueLimit(5, 5, 10)).toBe(false);
    expect(overQueueLimit(5, 6, 10)).toBe(true);
  });

  it('names the peer and the limit in a PS_ERR_SLOW_PEER', () => {
    const e = slowPeerError('worker-3', 70, 64);
    expect(e.code).toBe(PsErrorCode.SLOW_PEER);
    expect(e.message).toMatch(
      /worker-3 does not read .* 70 bytes .*maxQueuedBytes \(64\); connection closed/,
    );
    expect(slowPeerError('server-1', 70, 64, false).message).toMatch(
      /70 bytes are already queued for server-1.*this send is refused \(the connection stays\)/,
    );
  });
});
