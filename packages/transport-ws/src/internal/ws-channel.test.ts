import { isPsError, PsError, PsErrorCode } from '@ps/core';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type SocketAdapter, WsChannel } from './ws-channel.js';

/** A bare socket that records what the channel does to it (the channel's input is fed by hand). */
function bareSocket() {
  const sent: number[] = [];
  const closes: [number, string][] = [];
  let open = true;
  const socket: SocketAdapter = {
    bufferedAmount: 0,
    get isOpen() {
      return open;
    },
    send: (_parts, total, done) => {
      sent.push(total);
      done();
    },
    close: (code, reason) => {
      open = false;
      closes.push([code, reason]);
    },
    terminate: () => {
      open = false;
    },
    setMaxPayload: () => undefined,
  };
  return { socket, sent, closes };
}

describe('WsChannel', () => {
  it('keeps frames received before frames$ had a subscriber for the first one, then passes them live', async () => {
    const { socket } = bareSocket();
    const ch = new WsChannel(socket, '10.0.0.1', 1000, 100, 0);
    ch.received(Uint8Array.of(1));
    ch.received(Uint8Array.of(2));
    const all = lastValueFrom(ch.frames$.pipe(toArray()));
    ch.received(Uint8Array.of(3));
    ch.ended(1000, '');
    expect((await all).map((f) => f[0])).toEqual([1, 2, 3]);
  });

  it('refuses a text message (1003) and a message above its limit (1009) with stable codes', async () => {
    const text = bareSocket();
    const a = new WsChannel(text.socket, 'peer', 1000, 100, 0);
    const aEnd = lastValueFrom(a.frames$).catch((e: unknown) => e);
    a.received(undefined);
    expect(isPsError(await aEnd, PsErrorCode.FRAME_MALFORMED)).toBe(true);
    expect(text.closes[0]![0]).toBe(1003);

    const big = bareSocket();
    const b = new WsChannel(big.socket, 'peer', 1000, 100, 0);
    const bEnd = lastValueFrom(b.frames$).catch((e: unknown) => e);
    b.received(new Uint8Array(101));
    const err = await bEnd;
    expect(isPsError(err, PsErrorCode.FRAME_TOO_LARGE)).toBe(true);
    expect((err as PsError).message).toBe(
      'PS_ERR_FRAME_TOO_LARGE: peer sent a message of 101 bytes, above the 100 bytes allowed on this connection; connection closed',
    );
    expect(big.closes[0]![0]).toBe(1009);
  });

  it('reads a close without a clean code as a failure, and a browser’s 4001 as going away', async () => {
    const a = new WsChannel(bareSocket().socket, 'peer', 1000, 100, 0);
    const aEnd = lastValueFrom(a.frames$).catch((e: unknown) => e);
    a.ended(1006, '');
    expect(isPsError(await aEnd, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    const b = new WsChannel(bareSocket().socket, 'peer', 1000, 100, 0);
    const bEnd = lastValueFrom(b.frames$, { defaultValue: 'completed' });
    b.ended(4001, 'node closing');
    expect(await bEnd).toBe('completed');
  });

  it('close(reason) rejects later sends with the reason; a clean close with PS_ERR_CLOSED', async () => {
    const s = bareSocket();
    const ch = new WsChannel(s.socket, 'peer', 1000, 100, 0);
    await ch.send([new Uint8Array(10), new Uint8Array(5)]);
    expect(s.sent).toEqual([15]);
    ch.close();
    expect(s.closes).toEqual([[1000, '']]);
    const err = await ch.send([Uint8Array.of(1)]).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.CLOSED)).toBe(true);
    const t = bareSocket();
    const ch2 = new WsChannel(t.socket, 'peer', 1000, 100, 0);
    const reason = new PsError(PsErrorCode.SLOW_PEER, 'too slow');
    ch2.close(reason);
    expect(t.closes).toEqual([[1008, 'PS_ERR_SLOW_PEER: too slow']]);
    expect(await ch2.send([Uint8Array.of(1)]).catch((e: unknown) => e)).toBe(reason);
  });
});
