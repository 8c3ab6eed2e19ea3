import { describe, expect, it } from 'vitest';
import { transportLimitsFromEnv } from './transport-limits.js';

describe('transportLimitsFromEnv', () => {
  it('reads the set variables, leaves out the unset and empty ones', () => {
    expect(
      transportLimitsFromEnv({
        PS_MAX_CONNECTIONS: '64',
        PS_MAX_PENDING_HANDSHAKES_PER_SOURCE: ' 4 ',
        PS_MAX_QUEUED_BYTES: '',
        PS_MAX_INBOUND_BUFFER_BYTES: '1048576',
      }),
    ).toEqual({ maxConnections: 64, maxPendingHandshakesPerSource: 4, maxInboundBufferBytes: 1048576 });
    expect(transportLimitsFromEnv({})).toEqual({});
  });

  it('refuses a value that is not a positive integer with PS_ERR_CONFIG naming the variable', () => {
    for (const bad of ['0', '-1', '1.5', 'lots']) {
      expect(() => transportLimitsFromEnv({ PS_MAX_QUEUED_BYTES: bad })).toThrow(
        /PS_ERR_CONFIG: PS_MAX_QUEUED_BYTES must be a positive integer/,
      );
    }
  });
});
