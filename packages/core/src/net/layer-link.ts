import { PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';
import type { ClusterSecret } from './cluster-secret.js';
import type { FrameChannel } from './frame-transport.js';
import { Handshake, type HandshakeStep } from './handshake.js';
import { overQueueLimit, slowPeerError } from './slow-peer.js';
import { TokenBucket } from './token-bucket.js';

/** What a {@link LayerLink} needs to know: its side, this node, and the per-connection limits. */
export interface LayerLinkOptions {
  /** True on a channel this node dialed. */
  outgoing: boolean;
  /** This node's id (announced in the hello). */
  self: NodeId;
  secret: ClusterSecret | undefined;
  /** Accepting side: refuses a claimed id (the scheduler's, once this node dialed it). */
  admit?: ((peer: NodeId) => PsError | undefined) | undefined;
  /** Largest frame accepted once open, in bytes. */
  maxFrameBytes: number;
  /** Messages a second the peer may send once open (`Infinity`: no limit). */
  maxMessagesPerSecond: number;
  /** Bytes queued for sending past which a send is refused (dialed) or the peer dropped (accepted). */
  maxQueuedBytes: number;
}

/** What a {@link LayerLink} tells the message layer. */
export interface LayerLinkHooks {
  /** The handshake completed: the peer's id, proven when a secret is set. */
  open(peer: NodeId): void;
  /** The link was refused or failed before it opened (its channel is being closed). */
  refused(e: PsError): void;
  /** A frame from the open peer, in order. */
  frame(peer: NodeId, frame: Uint8Array | readonly Uint8Array[]): void;
  /** Bad input or a limit after the link opened (its channel is being closed). */
  failed(e: PsError): void;
  /** The channel ended (after `refused` or `failed` when there was one); the last call. */
  ended(): void;
}

/** A frame as one buffer (the handshake reads one; in-process media hand out parts). */
function whole(f: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (f instanceof Uint8Array) return f;
  if (f.length === 1) return f[0]!;
  let n = 0;
  for (const p of f) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of f) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * One channel under the message layer: runs core's {@link Handshake} over its first frames
 * (the channel's limit stays the hello limit until the peer is known), then hands frames out
 * within the peer's message rate (`PS_ERR_RATE_LIMIT`) and writes frames within
 * `maxQueuedBytes` (`PS_ERR_SLOW_PEER`). Any failure closes the channel; the layer learns of it
 * through its {@link LayerLinkHooks}.
 */
export class LayerLink {
  /** The peer's id, once the handshake completed. */
  peer: NodeId | undefined;
  /** Set once the link was refused or failed; later input is ignored. */
  failed = false;
  /** Set once the channel ended. */
  ended = false;
  /** Why this node closed the link for a limit (sends reject with it). */
  private closeError: PsError | undefined;
  private limiter: TokenBucket | undefined;
  private readonly handshake: Handshake;
  /** The far end for messages: its address and port where the medium says, else its source. */
  readonly where: string;
  /** Resolves once the channel ended. */
  readonly done: Promise<void>;
  private endNow!: () => void;

  constructor(
    readonly channel: FrameChannel,
    private readonly opts: LayerLinkOptions,
    private readonly hooks: LayerLinkHooks,
  ) {
    this.where = channel.remote ?? channel.source;
    this.done = new Promise<void>((resolve) => (this.endNow = resolve));
    this.handshake = new Handshake({
      side: opts.outgoing ? 'dial' : 'accept',
      self: opts.self,
      secret: opts.secret,
      admit: opts.outgoing ? undefined : opts.admit,
    });
  }

  /**
   * Starts reading the channel (hooks may run at once, with what arrived before); the dialing
   * side sends its hello first.
   */
  run(): void {
    if (this.opts.outgoing) this.write([this.handshake.start()]).catch(() => undefined);
    this.channel.frames$.subscribe({
      next: (f) => this.receive(f),
      error: (e: unknown) =>
        this.end(e instanceof PsError ? e : new PsError(PsErrorCode.PEER_UNREACHABLE, String(e))),
      complete: () => this.end(undefined),
    });
  }

  /** Closes the link's channel (gracefully: queued frames go first); idempotent. */
  close(): void {
    this.channel.close();
  }

  /**
   * Drops the link at once (a newer link replaced it, or it claimed an id it may not have): no
   * frame it carries is handed out from now on, and its channel closes with `reason`.
   */
  drop(reason: PsError): void {
    this.failed = true;
    this.channel.close(reason);
  }

  private receive(f: Uint8Array | readonly Uint8Array[]): void {
    if (this.failed || this.ended) return;
    const peer = this.peer;
    if (peer !== undefined) {
      if (this.limiter !== undefined && !this.limiter.take()) {
        this.fail(
          new PsError(
            PsErrorCode.RATE_LIMIT,
            `${peer} sent more than ${this.opts.maxMessagesPerSecond} messages a second (maxMessagesPerSecond); connection closed`,
            { peer },
          ),
        );
        return;
      }
      this.hooks.frame(peer, f);
      return;
    }
    const step = this.handshake.receive(whole(f));
    if (step instanceof Promise) void step.then((s) => this.apply(s));
    else this.apply(step);
  }

  /** Acts on a handshake step: sends its frame, then opens the link or refuses it. */
  private apply(step: HandshakeStep): void {
    if (this.failed || this.ended) return;
    if (step.send) this.write([step.send]).catch(() => undefined);
    if (step.error) {
      this.failed = true;
      this.hooks.refused(step.error);
      // Let the error frame leave, then close (the medium cuts off a peer that keeps its end open).
      this.channel.close();
      return;
    }
    if (step.peer !== undefined) {
      this.peer = step.peer;
      this.channel.setMaxFrameBytes(this.opts.maxFrameBytes);
      if (this.opts.maxMessagesPerSecond !== Number.POSITIVE_INFINITY) {
        this.limiter = new TokenBucket(this.opts.maxMessagesPerSecond);
      }
      this.hooks.open(step.peer);
    }
  }

  /** Fails the link on bad input or a limit: reports, closes the channel. */
  private fail(e: PsError): void {
    if (this.failed) return;
    this.failed = true;
    if (this.peer === undefined) this.hooks.refused(e);
    else this.hooks.failed(e);
    this.channel.close(e);
  }

  private end(e: PsError | undefined): void {
    if (this.ended) return;
    // A reset after the link opened is a disconnect, not bad input.
    if (e && !this.failed && !(this.peer !== undefined && e.code === PsErrorCode.PEER_UNREACHABLE))
      this.fail(e);
    this.ended = true;
    this.channel.close();
    this.hooks.ended();
    this.endNow();
  }

  /**
   * Writes one frame. Past `maxQueuedBytes`, a dialed link refuses this send and stays; an
   * accepted one is closed (its peer does not read its answers).
   * @throws PsError `PS_ERR_SLOW_PEER`, `PS_ERR_PEER_UNREACHABLE` (the link closed),
   *   `PS_ERR_FRAME_TOO_LARGE` (over the medium's limit).
   */
  write(parts: readonly Uint8Array[], total?: number): Promise<void> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (this.ended) {
      return Promise.reject(
        new PsError(PsErrorCode.PEER_UNREACHABLE, `connection to ${this.peer ?? 'peer'} is closed`),
      );
    }
    let len = total ?? 0;
    if (total === undefined) for (const p of parts) len += p.byteLength;
    const queued = this.channel.queuedBytes;
    const max = this.opts.maxQueuedBytes;
    if (overQueueLimit(queued, len, max)) {
      // Our own requests outran a peer we dialed: refuse this one; answers to a peer that does not
      // read them: drop the connection.
      if (this.opts.outgoing) return Promise.reject(slowPeerError(this.peer ?? 'peer', queued, max, false));
      return Promise.reject(this.dropSlowPeer(queued));
    }
    return this.channel.send(parts).catch((e: unknown) => {
      if (this.closeError) throw this.closeError;
      if (e instanceof PsError && e.code !== PsErrorCode.CLOSED) throw e;
      throw new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `connection to ${this.peer ?? 'peer'} closed before a queued frame was written`,
      );
    });
  }

  /** Closes a link whose peer does not read: reports it; returns the error its sends reject with. */
  private dropSlowPeer(queued: number): PsError {
    if (this.closeError) return this.closeError;
    const err = slowPeerError(this.peer ?? this.where, queued, this.opts.maxQueuedBytes);
    this.closeError = err;
    this.fail(err);
    return err;
  }
}
