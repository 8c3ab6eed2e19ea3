import type { LookupFunction } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  isTlsAuthError,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { adoptWithDirectReads, DirectReads } from './direct-reads.js';
import { TcpChannel } from './tcp-channel.js';
import type { TcpTlsOptions } from './tcp-tls-options.js';

/** Options of {@link TcpFrameTransport}: the medium's own, nothing of the message layer. */
export interface TcpFrameOptions {
  /** Speak TLS (`node:tls`) on every connection, listening and dialing. Default: plain TCP. */
  tls?: TcpTlsOptions;
  /** The largest frame this medium carries, in bytes. Default 512 MiB (as core's codec). */
  maxFrameBytes?: number;
  /**
   * The address to bind when listening (e.g. `0.0.0.0`), while the node announces the host it
   * was given (a hostname its peers resolve). Default: that host itself.
   */
  listenHost?: string;
  /**
   * Resolves a host name at each dial (`net.connect`'s `lookup`). Default `dns.lookup` (the
   * system's resolver: `/etc/hosts`, then DNS). Nothing is cached: every dial, so every
   * reconnect, resolves the name again, and a peer recreated at a new address (a Kubernetes pod)
   * is found there.
   */
  lookup?: LookupFunction;
}

/**
 * TCP (`node:net`, or `node:tls` with the `tls` option) as a medium that only moves frames
 * (`FrameTransport`): it listens, dials, and makes a {@link TcpChannel} per connection.
 * A TLS listener wraps each accepted socket at once, so the message layer counts (and times
 * out) a connection from its first byte, TLS handshake included. A plain listener that hears a
 * TLS hello fails that channel with `PS_ERR_HANDSHAKE` and answers a fatal alert.
 */
export class TcpFrameTransport implements FrameTransport {
  readonly kind = 'tcp';
  readonly maxFrameBytes: number;
  /** A channel's send settles in the callback of the socket write holding the frame's last byte (`WriteBatch`). */
  readonly sendResolvesAfterWrite = true;
  /** Added to the layer's message when a dialed connection closes before its handshake. */
  readonly earlyCloseHint: string;
  private readonly tls: TcpTlsOptions | undefined;
  private readonly listenHost: string | undefined;
  private readonly lookup: LookupFunction | undefined;
  private server: net.Server | undefined;
  private readonly channels = new Set<TcpChannel>();
  private closed = false;

  constructor(opts: TcpFrameOptions = {}) {
    this.tls = opts.tls;
    this.listenHost = opts.listenHost;
    this.lookup = opts.lookup;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.earlyCloseHint = this.tls
      ? ''
      : ' (a TLS port? then give this transport the tls options of the cluster)';
  }

  /**
   * @throws PsError `PS_ERR_BIND` when the address cannot be bound, `PS_ERR_CONFIG` when `tls`
   *   lacks `cert` or `key` (or they do not load), `PS_ERR_CLOSED` after close().
   */
  async listen(
    at: FrameAddress,
    limits: () => FrameChannelLimits,
    accept: (channel: FrameChannel) => void,
  ): Promise<FrameAddress> {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed');
    const context = this.tls ? this.serverContext() : undefined;
    // Plain sockets start paused, to be adopted for direct reads (see adoptWithDirectReads).
    const server = net.createServer({ pauseOnConnect: context === undefined }, (raw) => {
      if (this.closed) {
        raw.destroy();
        return;
      }
      let socket: net.Socket = raw;
      let direct: DirectReads | undefined;
      if (!context) ({ socket, direct } = adoptWithDirectReads(raw, net.Socket));
      if (context) {
        const o = this.tls!;
        const secure = new tls.TLSSocket(raw, {
          isServer: true,
          secureContext: context,
          requestCert: o.requestCert ?? false,
          rejectUnauthorized: o.requestCert ? (o.rejectUnauthorized ?? true) : false,
        });
        if (o.requestCert && (o.rejectUnauthorized ?? true)) {
          // What tls.Server does for its own sockets: a certificate that did not verify is refused
          // once the handshake is done (OpenSSL only refuses a missing one itself).
          secure.once('secure', () => {
            const handle = (secure as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
            const refused = handle?.verifyError ? handle.verifyError() : new Error('cannot check it');
            if (refused) secure.destroy(new Error(`client certificate refused: ${refused.message}`));
          });
        }
        socket = secure;
      }
      const ch = this.track(socket, false, limits(), context ? raw : undefined, direct);
      accept(ch);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new PsError(PsErrorCode.BIND, `cannot listen on ${at.host}:${at.port}: ${err.message}`, undefined, {
            cause: err,
          }),
        ),
      );
      server.listen(at.port, this.listenHost ?? at.host, () => resolve());
    });
    server.on('error', () => undefined); // after listening, errors belong to sockets
    const addr = server.address() as net.AddressInfo;
    return { host: at.host, port: addr.port };
  }

  private serverContext(): tls.SecureContext {
    const o = this.tls!;
    if (o.cert === undefined || o.key === undefined) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'a TLS transport that listens needs tls.cert and tls.key (PEM); a worker that only dials needs neither',
      );
    }
    try {
      return tls.createSecureContext({
        cert: o.cert,
        key: o.key,
        ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
        ...(o.ca !== undefined ? { ca: o.ca } : {}),
      });
    } catch (err) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `cannot load the TLS certificate or key: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
  }

  private track(
    socket: net.Socket,
    outgoing: boolean,
    limits: FrameChannelLimits,
    raw?: net.Socket,
    direct?: DirectReads,
  ): TcpChannel {
    const ch = new TcpChannel(socket, {
      ...(raw ? { raw } : {}),
      ...(direct ? { direct } : {}),
      outgoing,
      tls: this.tls !== undefined,
      limits,
      mediumMaxFrameBytes: this.maxFrameBytes,
    });
    this.channels.add(ch);
    void ch.closed().then(() => this.channels.delete(ch));
    return ch;
  }

  /**
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (refused, reset, or `timeoutMs` passed),
   *   `PS_ERR_AUTH` (TLS failed: an untrusted certificate, or a peer without TLS),
   *   `PS_ERR_CONFIG` (the TLS options do not load), `PS_ERR_CLOSED` after close().
   */
  dial(at: FrameAddress, limits: FrameChannelLimits, timeoutMs: number): Promise<FrameChannel> {
    if (this.closed) return Promise.reject(new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed'));
    const where = `${at.host}:${at.port}`;
    return new Promise<FrameChannel>((resolve, reject) => {
      let socket: net.Socket;
      const o = this.tls;
      // A plain socket reads large frames straight into their buffers (see DirectReads).
      const direct = o ? undefined : new DirectReads();
      const raw = net.connect({
        host: at.host,
        port: at.port,
        ...(this.lookup ? { lookup: this.lookup } : {}),
        ...(direct ? { onread: direct.onread } : {}),
      });
      try {
        socket = o
          ? tls.connect({
              socket: raw,
              host: at.host,
              port: at.port,
              ...(o.ca !== undefined ? { ca: o.ca } : {}),
              ...(o.cert !== undefined ? { cert: o.cert } : {}),
              ...(o.key !== undefined ? { key: o.key } : {}),
              ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
              ...(o.servername !== undefined ? { servername: o.servername } : {}),
              rejectUnauthorized: o.rejectUnauthorized ?? true,
            })
          : raw;
      } catch (err) {
        raw.destroy();
        reject(
          new PsError(
            PsErrorCode.CONFIG,
            `cannot set up TLS to ${where}: ${(err as Error).message}`,
            undefined,
            {
              cause: err,
            },
          ),
        );
        return;
      }
      let settled = false;
      const fail = (e: PsError) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        socket.destroy();
        raw.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () =>
          fail(new PsError(PsErrorCode.PEER_UNREACHABLE, `${where} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      timer.unref();
      const onError = (err: Error) =>
        fail(
          isTlsAuthError(err)
            ? new PsError(
                PsErrorCode.AUTH,
                `TLS with ${where} failed (an untrusted certificate, or a peer without TLS): ${err.message}`,
                undefined,
                { cause: err },
              )
            : new PsError(PsErrorCode.PEER_UNREACHABLE, `cannot connect to ${where}: ${err.message}`),
        );
      const onClose = () =>
        fail(
          new PsError(
            PsErrorCode.PEER_UNREACHABLE,
            `connection to ${where} closed before it opened${this.earlyCloseHint}`,
          ),
        );
      socket.once('error', onError);
      socket.once('close', onClose);
      if (raw !== socket) raw.once('error', onError);
      socket.once(o ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        if (settled) return;
        if (this.closed) {
          fail(new PsError(PsErrorCode.CLOSED, 'the TCP transport is closed'));
          return;
        }
        settled = true;
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        raw.removeListener('error', onError);
        resolve(this.track(socket, true, limits, raw !== socket ? raw : undefined, direct));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ends = [...this.channels].map((ch) => {
      ch.close();
      return ch.closed();
    });
    const server = this.server;
    const stopped = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    await Promise.all([...ends, stopped]);
  }
}
