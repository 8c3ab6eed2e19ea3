import type { Message } from '@ps/core';
import { afterEach } from 'vitest';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';

/**
 * Called in a `describe`: `make(opts)` is a new TcpTransport, closed after each test of that
 * `describe` with every other one made there.
 */
export function tcpTransports(): (o?: TcpTransportOptions) => TcpTransport {
  const open: TcpTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  return (o = {}) => {
    const t = new TcpTransport(o);
    open.push(t);
    return t;
  };
}

/** A pull request of keys 1 and 2 with timestamp `ts` (sender and recipient left for the transport). */
export const testMessage = (ts: number): Message => ({
  meta: { sender: '', recipient: '', app: 0, ts, request: true, push: false, pull: true },
  data: [new BigUint64Array([1n, 2n])],
});
