import type { FrameAddress } from '@ps/core';

/** `ws://host:port/path` (or `wss://`), with IPv6 hosts in brackets. */
export function wsUrl(address: FrameAddress, path: string, scheme: 'ws' | 'wss' = 'ws'): string {
  const host =
    address.host.includes(':') && !address.host.startsWith('[') ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${address.port}${path.startsWith('/') ? path : `/${path}`}`;
}
