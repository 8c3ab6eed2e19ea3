import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BindOptions, type NodeAddress, PsError, PsErrorCode } from '@ps/core';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { type SocketAdapter, type SocketHandlers, type WsBaseOptions, WsTransportBase } from './ws-base.js';

/** Options of {@link ws}. */
export interface WsTransportOptions extends WsBaseOptions {}

/** The `ws` receiver's size limit; lowered to a hello's size until the hello came. */
interface ReceiverInternals {
  _receiver?: { _maxPayload?: number } | null;
}

const toBuffer = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);

/** Maps an error `ws` reports on an open connection (bad input) to a PsError. */
function inputError(err: Error & { code?: string }, maxFrameBytes: number): PsError {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
    return new PsError(
      PsErrorCode.FRAME_TOO_LARGE,
      `peer sent a message larger than allowed (${maxFrameBytes} bytes, or 4096 before its hello); connection closed`,
      undefined,
      { cause: err },
    );
  }
  return new PsError(
    PsErrorCode.FRAME_MALFORMED,
    `bad WebSocket input (${err.message}); connection closed`,
    undefined,
    { cause: err },
  );
}

/**
 * Adapts a `ws` socket. A frame's parts go out as the fragments of one message (`fin: false`
 * on all but the last), so the receiver gets one message and the sender copies nothing; a
 * server's fragments are written straight from the caller's buffers. (A client must mask what it
 * sends, which `ws` does on a copy: RFC 6455 leaves no way around that one copy.)
 */
function adapt(socket: WebSocket, handlers: SocketHandlers, maxFrameBytes: number, opened: boolean) {
  socket.binaryType = 'nodebuffer';
  let isOpen = opened;
  let maxPayload: number | undefined;
  const applyMaxPayload = () => {
    const r = (socket as unknown as ReceiverInternals)._receiver;
    if (maxPayload !== undefined && r && typeof r._maxPayload === 'number') r._maxPayload = maxPayload;
  };
  socket.on('open', () => {
    isOpen = true;
    applyMaxPayload(); // a client's receiver exists from the upgrade on
    handlers.open();
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) handlers.message(undefined);
    else handlers.message(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
  });
  socket.on('error', (err: Error & { code?: string; syscall?: string }) => {
    if (!isOpen) {
      // Before the upgrade: refused, reset or timed out is worth a retry; a server that answers
      // the upgrade wrongly (a 4xx, a bad accept header) is not a @ps WebSocket endpoint.
      const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
      const retry =
        err.syscall !== undefined ||
        err.code !== undefined ||
        /timed out|closed before|hang up/i.test(err.message) ||
        (status !== undefined && Number(status) >= 500);
      handlers.error(
        new PsError(
          retry ? PsErrorCode.PEER_UNREACHABLE : PsErrorCode.HANDSHAKE,
          retry ? `cannot connect: ${err.message}` : `not a @ps WebSocket endpoint: ${err.message}`,
          undefined,
          { cause: err },
        ),
      );
    } else handlers.error(inputError(err, maxFrameBytes));
  });
  socket.on('close', () => {
    isOpen = false;
    handlers.close();
  });
  const adapter: SocketAdapter = {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get isOpen() {
      return isOpen && socket.readyState === WebSocket.OPEN;
    },
    get isClosed() {
      return socket.readyState === WebSocket.CLOSED;
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
      maxPayload = bytes;
      applyMaxPayload();
    },
  };
  return adapter;
}

/**
 * The WebSocket transport on Node (`ws`): a `WebSocketServer` on `bind`, a client `WebSocket`
 * on `connect`. One binary WebSocket message is one frame, so no length prefix is needed; the
 * first message each way is the core hello (`encodeHello`). Text messages, a first message that
 * is no hello, and messages above `maxFrameBytes` (ws's `maxPayload`; 4 KiB before the hello)
 * close only the connection they came on, reported on `events$`. A send resolves in `ws`'s send
 * callback (the bytes reached the kernel) and waits while the socket's `bufferedAmount` is above
 * `highWaterMarkBytes`. Outgoing connections reconnect with backoff when dropped; sends made
 * meanwhile wait for the reconnect (up to `reconnectWindowMs`). Compression is off.
 */
export class WsTransport extends WsTransportBase {
  readonly kind = 'ws';
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;

  async bind(self: NodeAddress, options: BindOptions = {}): Promise<NodeAddress> {
    this.assertOpen();
    if (this.self !== undefined && this.http) {
      throw new PsError(PsErrorCode.CONFIG, 'this transport is bound already; make one transport per node');
    }
    this.self = self.id;
    if (options.listen === false) return { ...self, port: 0 };
    const http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('this is a @ps WebSocket endpoint; connect with a WebSocket client\n');
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) =>
        reject(
          new PsError(
            PsErrorCode.BIND,
            `cannot listen on ${self.host}:${self.port}: ${err.message}`,
            undefined,
            { cause: err },
          ),
        ),
      );
      http.listen(self.port, self.host, () => resolve());
    });
    const wss = new WebSocketServer({
      server: http,
      path: this.path,
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    wss.on('error', (err) =>
      this.emitError(
        new PsError(PsErrorCode.BIND, `listener error: ${err.message}`, undefined, { cause: err }),
      ),
    );
    wss.on('connection', (socket, req) => {
      const where = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      const { handlers, attach } = this.accept(where);
      attach(adapt(socket, handlers, this.maxFrameBytes, true));
    });
    this.http = http;
    this.wss = wss;
    const addr = http.address() as AddressInfo;
    return { id: self.id, host: self.host, port: addr.port };
  }

  protected openSocket(url: string, handlers: SocketHandlers): SocketAdapter {
    const socket = new WebSocket(url, {
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.helloTimeoutMs,
    });
    return adapt(socket, handlers, this.maxFrameBytes, false);
  }

  protected override closeListener(): Promise<void> {
    const { http, wss } = this;
    if (!http || !wss) return Promise.resolve();
    return new Promise<void>((resolve) => {
      wss.close(() => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    });
  }
}

/** Makes a WebSocket transport for Node: `createServer({ transport: ws(), ... })`. */
export function ws(opts: WsTransportOptions = {}): WsTransport {
  return new WsTransport(opts);
}
