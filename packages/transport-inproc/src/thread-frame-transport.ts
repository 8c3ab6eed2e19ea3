import type { MessagePort } from 'node:worker_threads';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameAddress,
  type FrameChannel,
  type FrameChannelLimits,
  type FrameTransport,
  PsError,
  PsErrorCode,
} from '@ps/core';
import { ThreadChannel } from './internal/thread-channel.js';
import type { FromHub, ToHub } from './internal/thread-protocol.js';

/** Options of {@link ThreadFrameTransport}. */
export interface ThreadFrameTransportOptions {
  /** This transport's port to a {@link ThreadHub} (`hub.connectPort()`); one port per transport. */
  port: MessagePort;
  /** Largest frame this medium carries, in bytes. Default 512 MiB (core's `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /**
   * Flow control: bytes sent on one channel and not yet read by the receiving thread. Past it,
   * sends wait (in order) until the receiver catches up; a single larger frame still goes
   * alone. Default 8 MiB.
   */
  maxBytesInFlight?: number;
}

interface PendingRequest {
  resolve: (reply: FromHub) => void;
  reject: (err: PsError) => void;
}

interface Listening {
  limits: () => FrameChannelLimits;
  accept: (channel: FrameChannel) => void;
}

/** Default `maxBytesInFlight`: 8 MiB, so a burst of sends waits in order (and `close(reason)` can fail it). */
const DEFAULT_MAX_BYTES_IN_FLIGHT = 8 * 1024 * 1024;

/** How long `close()` waits for the hub to release this transport's addresses, in ms. */
const RELEASE_WAIT_MS = 1_000;

/**
 * The worker-threads medium: channels between transports, in any threads of one process, that
 * share a {@link ThreadHub}. The hub only matches `host:port` names; each channel is its own
 * `MessageChannel`, so frames go directly from thread to thread. A frame's parts are copied
 * once into one new `ArrayBuffer`, which is then transferred (not cloned); the receiver gets it
 * as one 8-aligned `Uint8Array`. A per-channel window (`maxBytesInFlight`) of bytes not yet
 * read by the receiver makes sends wait when the receiving thread falls behind. A closed
 * channel (its transport closed, its thread exited) ends the other end's `frames$` after the
 * frames posted before: cleanly on `close()`, with `PS_ERR_PEER_UNREACHABLE` otherwise.
 *
 * The hub port is ref'd only while this transport listens or waits for the hub, channel ports
 * while open; `close()` closes them all, so a closed transport never keeps its thread alive.
 * Only moves frames: the handshake, peers, limits and reconnection are core's `MessageLayer`.
 */
export class ThreadFrameTransport implements FrameTransport {
  readonly kind = 'threads';
  readonly maxFrameBytes: number;
  private readonly maxBytesInFlight: number;
  private readonly hubPort: MessagePort;
  private hubOpen = true;
  private nextReq = 1;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly listening = new Map<string, Listening>();
  private readonly channels = new Set<ThreadChannel>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: ThreadFrameTransportOptions) {
    this.hubPort = opts.port;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxBytesInFlight = opts.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
    this.hubPort.on('message', (msg: FromHub) => this.onHubMessage(msg));
    this.hubPort.on('close', () => this.onHubClosed());
    this.refreshHubRef();
  }

  /**
   * Registers `at` at the hub (port 0: a fresh port number, 1 and up) and calls `accept` with
   * this side of every channel dialed to it.
   * @throws PsError `PS_ERR_BIND` (the address is in use at the hub, the port is invalid, or the
   *   hub is closed), `PS_ERR_CLOSED`.
   */
  async listen(
    at: FrameAddress,
    limits: () => FrameChannelLimits,
    accept: (channel: FrameChannel) => void,
  ): Promise<FrameAddress> {
    this.assertOpen();
    let reply: FromHub;
    try {
      reply = await this.ask({ t: 'bind', req: this.nextReq++, host: at.host, port: at.port });
    } catch (err) {
      const e = err as PsError;
      if (e.code === PsErrorCode.BIND || e.code === PsErrorCode.CLOSED) throw e;
      throw new PsError(PsErrorCode.BIND, `cannot listen on ${at.host}:${at.port}: ${e.message}`, undefined, {
        cause: e,
      });
    }
    if (reply.t !== 'bound')
      throw new PsError(PsErrorCode.PROTOCOL, `the ThreadHub answered a bind with ${reply.t}`);
    this.assertOpen();
    this.listening.set(`${at.host}:${reply.port}`, { limits, accept });
    this.refreshHubRef();
    return { host: at.host, port: reply.port };
  }

  /**
   * Asks the hub for a channel to whoever listens at `at`. Nothing listening there is a
   * refusal, at once (the message layer retries); `timeoutMs` bounds the wait for the hub.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (nothing listens at `at`, the hub did not answer
   *   within `timeoutMs`, or the hub is closed), `PS_ERR_CLOSED`.
   */
  async dial(at: FrameAddress, limits: FrameChannelLimits, timeoutMs: number): Promise<FrameChannel> {
    this.assertOpen();
    const req = this.nextReq++;
    const timer = setTimeout(() => {
      const r = this.requests.get(req);
      this.requests.delete(req);
      this.refreshHubRef();
      r?.reject(
        new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `the ThreadHub did not answer a dial within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const reply = await this.ask({ t: 'connect', req, host: at.host, port: at.port }).finally(() =>
      clearTimeout(timer),
    );
    if (reply.t !== 'linked') {
      throw new PsError(PsErrorCode.PROTOCOL, `the ThreadHub answered a connect with ${reply.t}`);
    }
    if (this.closed) {
      reply.link.close();
      throw new PsError(PsErrorCode.CLOSED, 'the thread transport was closed while dialing');
    }
    return this.open(reply.link, limits);
  }

  private open(port: MessagePort, limits: FrameChannelLimits): ThreadChannel {
    const ch = new ThreadChannel(port, {
      maxFrameBytes: limits.maxFrameBytes,
      mediumMaxBytes: this.maxFrameBytes,
      maxBytesInFlight: this.maxBytesInFlight,
      onClosed: (c) => this.channels.delete(c),
    });
    this.channels.add(ch);
    return ch;
  }

  /**
   * Closes every channel (cleanly: frames already sent are posted first) and the hub port;
   * resolves once the hub released this transport's addresses (so they can be listened on
   * again at once), waiting at most 1 s for the hub. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    const err = new PsError(PsErrorCode.CLOSED, 'the thread transport was closed');
    for (const r of [...this.requests.values()]) r.reject(err);
    this.requests.clear();
    for (const ch of [...this.channels]) ch.close();
    if (this.listening.size > 0 && this.hubOpen) {
      let timer: NodeJS.Timeout | undefined;
      const released = this.ask({ t: 'release', req: this.nextReq++ }).catch(() => undefined);
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, RELEASE_WAIT_MS);
      });
      await Promise.race([released, gaveUp]);
      clearTimeout(timer);
    }
    this.requests.clear();
    this.listening.clear();
    this.hubPort.close();
  }

  private ask(msg: ToHub): Promise<FromHub> {
    if (!this.hubOpen) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, 'the ThreadHub is closed; listening and dialing need it'),
      );
    }
    return new Promise<FromHub>((resolve, reject) => {
      this.requests.set(msg.req, { resolve, reject });
      this.refreshHubRef();
      this.hubPort.postMessage(msg);
    });
  }

  private onHubMessage(msg: FromHub): void {
    if (msg.t === 'accept') {
      const l = this.closed ? undefined : this.listening.get(`${msg.host}:${msg.port}`);
      if (!l) msg.link.close();
      else l.accept(this.open(msg.link, l.limits()));
      return;
    }
    const r = this.requests.get(msg.req);
    if (!r) {
      if (msg.t === 'linked') msg.link.close();
      return;
    }
    this.requests.delete(msg.req);
    this.refreshHubRef();
    if (msg.t === 'fail') r.reject(new PsError(msg.code, msg.message));
    else r.resolve(msg);
  }

  private onHubClosed(): void {
    this.hubOpen = false;
    this.listening.clear();
    const err = new PsError(
      PsErrorCode.PEER_UNREACHABLE,
      'the ThreadHub closed; listening and dialing need it',
    );
    for (const r of [...this.requests.values()]) r.reject(err);
    this.requests.clear();
  }

  /** Keeps the thread alive through the hub port only while listening or waiting for the hub. */
  private refreshHubRef(): void {
    if (this.hubOpen && (this.listening.size > 0 || this.requests.size > 0)) this.hubPort.ref();
    else this.hubPort.unref();
  }

  private assertOpen(): void {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the thread transport is closed');
  }
}
