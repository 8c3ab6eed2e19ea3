/** The Node medium's `ws` socket under a {@link WsChannel}: the adapter, and its events wired in. */
import type { Socket } from 'node:net';
import { PsError, PsErrorCode, type StreamInboundGate } from '@ps/core';
import { type RawData, WebSocket } from 'ws';
import type { SocketAdapter, WsChannel } from './ws-channel.js';

/** The `ws` receiver's size limit, which `ws` has no public setter for. */
interface ReceiverInternals {
  _receiver?: { _maxPayload?: number } | null;
}

const toBuffer = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

/**
 * Adapts a `ws` socket to a {@link WsChannel}. A frame's parts go out as the fragments of one
 * message (`fin: false` on all but the last): the receiver gets one message and a server copies
 * nothing (a client masks on a copy, as RFC 6455 requires). The size limit is `ws`'s
 * `maxPayload`, checked from each fragment's header before its payload is buffered.
 */
export function adapt(socket: WebSocket): SocketAdapter & { readonly ws: WebSocket } {
  return {
    ws: socket,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
    send(parts, _total, done) {
      if (parts.length <= 1) {
        socket.send(parts.length === 0 ? Buffer.alloc(0) : toBuffer(parts[0]!), { binary: true }, done);
        return;
      }
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) socket.send(toBuffer(parts[i]!), { binary: true, fin: false });
      socket.send(toBuffer(parts[last]!), { binary: true, fin: true }, done);
    },
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
    setMaxPayload(bytes) {
      const r = (socket as unknown as ReceiverInternals)._receiver;
      if (r && typeof r._maxPayload === 'number') r._maxPayload = bytes;
    },
  };
}

/** Wires a `ws` socket's events to its channel; `gate` counts its partial messages (the node's inbound budget). */
export function wire(socket: WebSocket, raw: Socket, channel: WsChannel, gate: StreamInboundGate): void {
  socket.binaryType = 'nodebuffer';
  const entry = gate.open({ pause: () => socket.pause(), resume: () => socket.resume() });
  // Bytes are counted from the socket, ahead of ws's parser, until the channel fails or closes.
  let counting = true;
  const stopCounting = () => {
    counting = false;
    entry.closed();
  };
  raw.prependListener('data', (chunk: Buffer) => {
    if (counting) entry.received(chunk.byteLength);
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    entry.frameDone();
    if (!isBinary) channel.received(undefined);
    else channel.received(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
  });
  socket.on('error', (err: Error & { code?: string }) => {
    stopCounting();
    channel.failed(
      err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? channel.tooLarge()
        : new PsError(
            PsErrorCode.FRAME_MALFORMED,
            `bad WebSocket input from ${channel.source} (${err.message}); connection closed`,
            undefined,
            { cause: err },
          ),
    );
  });
  socket.on('close', (code: number, reason: Buffer) => {
    stopCounting();
    channel.ended(code, reason.toString());
  });
}
