import { type Observable, Subject, type Subscription } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { Logger } from '../internal/logger.js';
import { type AppFilters, chainFor, decodeChain, encodeChain, type Filter } from '../wire/filter.js';
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, encodeFrame, frameLength } from '../wire/frame-codec.js';
import { localFrame, localMessage } from '../wire/local-frame.js';
import { COMMANDS, type Message, type Meta, type NodeId, type Segment } from '../wire/message.js';
import { markOwnedFrame } from '../wire/owned-frame.js';
import type { Transport } from './transport.js';

/** Bytes and frames moved by one node, for job summaries and benchmarks. */
export interface TrafficStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Frames rejected as malformed, truncated or invalid. */
  framesRejected: number;
}

/** Checks that a decoded meta has the fields and types of a @ps message. */
export function validateMeta(meta: Meta): void {
  const bad = (what: string) => {
    throw new PsError(PsErrorCode.MESSAGE_INVALID, `message meta: ${what}`);
  };
  if (!Number.isInteger(meta.app) || meta.app < 0) bad('app must be a non-negative integer');
  if (!Number.isInteger(meta.ts) || meta.ts < 0) bad('ts must be a non-negative integer');
  if (typeof meta.request !== 'boolean') bad('request must be a boolean');
  if (typeof meta.push !== 'boolean' || typeof meta.pull !== 'boolean') bad('push and pull must be booleans');
  if (meta.cmd !== undefined && !COMMANDS.has(meta.cmd)) bad(`unknown command ${String(meta.cmd)}`);
  if (meta.error !== undefined && (typeof meta.error !== 'object' || meta.error === null))
    bad('error must be a map');
  if (
    meta.deps !== undefined &&
    (!Array.isArray(meta.deps) ||
      meta.deps.length > 4096 ||
      !meta.deps.every((d) => Number.isInteger(d) && d >= 0))
  ) {
    bad('deps must be a list of at most 4,096 non-negative integers');
  }
  if (meta.done !== undefined && (!Number.isInteger(meta.done) || meta.done < 0)) {
    bad('done must be a non-negative integer');
  }
  if (meta.ring !== undefined && (!Number.isInteger(meta.ring) || meta.ring < 0)) {
    bad('ring must be a non-negative integer');
  }
  if (meta.part !== undefined && (!Number.isInteger(meta.part) || meta.part < 0)) {
    bad('part must be a non-negative integer');
  }
  if (meta.resend !== undefined && typeof meta.resend !== 'boolean') bad('resend must be a boolean');
  if (meta.iter !== undefined && (!Number.isSafeInteger(meta.iter) || meta.iter < 0)) {
    bad('iter must be a non-negative integer');
  }
  if (meta.inc !== undefined && (typeof meta.inc !== 'string' || meta.inc.length > 32)) {
    bad('inc must be a string of at most 32 characters');
  }
}

/**
 * A transport with the frame codec on top: sends messages, decodes incoming frames into
 * validated messages (the sender is the transport's authenticated peer id, never what the meta
 * claims), counts traffic, and turns bad frames into logged `PsError`s instead of crashes.
 */
export class Endpoint {
  readonly stats: TrafficStats = {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    framesRejected: 0,
  };
  private readonly messagesSubject = new Subject<Message>();
  private readonly errorsSubject = new Subject<PsError>();
  private readonly sub: Subscription;
  readonly messages$: Observable<Message> = this.messagesSubject.asObservable();
  readonly errors$: Observable<PsError> = this.errorsSubject.asObservable();

  /** Called with a data message whose filter chain failed to decode it (the node answers it). */
  onFilterError: ((msg: Message, err: PsError) => void) | undefined;
  /** The keys of this node's request `ts` of `app` to `peer`, for filters decoding its answer. */
  requestKeys:
    | ((peer: NodeId, app: number, ts: number, part?: number) => BigUint64Array | undefined)
    | undefined;

  constructor(
    readonly transport: Transport,
    private readonly self: () => NodeId,
    private readonly log: Logger,
    readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
    /** The bandwidth filter chain run on data messages (encode in order, decode in reverse). */
    readonly filters: readonly Filter[] = [],
    /** Apps that run their own chain instead of `filters`. */
    readonly appFilters: AppFilters | undefined = undefined,
  ) {
    this.sub = transport.frames$.subscribe({
      next: ({ from, frame }) => this.receive(from, frame),
      complete: () => {
        this.messagesSubject.complete();
        this.errorsSubject.complete();
      },
    });
    transport.events$.subscribe((ev) => {
      if (ev.type === 'error') this.reject(ev.error, ev.peer);
    });
  }

  private reject(err: PsError, peer?: NodeId): void {
    this.stats.framesRejected++;
    this.log.warn(`rejected input${peer ? ` from ${peer}` : ''}: ${err.message}`);
    this.errorsSubject.next(err);
  }

  private receive(from: NodeId, frame: Uint8Array | readonly Uint8Array[]): void {
    this.stats.framesReceived++;
    this.stats.bytesReceived += frame instanceof Uint8Array ? frame.byteLength : frameLength(frame);
    let msg: Message;
    try {
      const local = localMessage(frame);
      if (local && frameLength(frame as readonly Uint8Array[]) > this.maxFrameBytes) {
        throw new PsError(
          PsErrorCode.FRAME_TOO_LARGE,
          `frame of ${frameLength(frame as readonly Uint8Array[])} bytes exceeds maxFrameBytes (${this.maxFrameBytes})`,
        );
      }
      msg = local ?? decodeFrame(frame, this.maxFrameBytes);
      validateMeta(msg.meta);
    } catch (err) {
      this.reject(err instanceof PsError ? err : new PsError(PsErrorCode.FRAME_MALFORMED, String(err)), from);
      return;
    }
    msg.meta.sender = from;
    msg.meta.recipient = this.self();
    const chain = chainFor(this.filters, this.appFilters, msg.meta.app);
    if (chain.length > 0 && msg.meta.cmd === undefined) {
      try {
        const first = msg.data[0];
        const keys = msg.meta.request
          ? first instanceof BigUint64Array
            ? first
            : undefined
          : this.requestKeys?.(from, msg.meta.app, msg.meta.ts, msg.meta.part);
        msg = decodeChain(chain, msg, keys ? { peer: from, keys } : { peer: from });
      } catch (err) {
        const e = err instanceof PsError ? err : new PsError(PsErrorCode.FRAME_MALFORMED, String(err));
        this.reject(e, from);
        this.onFilterError?.(msg, e);
        return;
      }
      markOwnedFrame(msg, frame, chain);
    } else markOwnedFrame(msg, frame, undefined);
    this.messagesSubject.next(msg);
  }

  /**
   * Encodes and sends a message. `sender` and `recipient` do not travel: the receiving endpoint
   * fills them in from the transport's authenticated peer id and its own id.
   */
  async send(
    to: NodeId,
    meta: Omit<Meta, 'sender' | 'recipient'>,
    data: Segment[] = [],
    /** For a response: the keys of the request it answers (filters need them). */
    keys?: BigUint64Array,
  ): Promise<void> {
    let msg: Message = { meta: meta as Meta, data };
    const chain = chainFor(this.filters, this.appFilters, meta.app);
    if (chain.length > 0 && meta.cmd === undefined) {
      const first = data[0];
      const k = keys ?? (meta.request && first instanceof BigUint64Array ? first : undefined);
      msg = encodeChain(chain, msg, k ? { peer: to, keys: k } : { peer: to });
    }
    // In one thread, a data message goes over as it is (see local-frame.ts); else as a frame.
    const local = this.transport.passesFramesByReference === true ? localFrame(msg) : undefined;
    const parts = local ?? encodeFrame(msg, this.maxFrameBytes);
    const n = frameLength(parts);
    if (local && n > this.maxFrameBytes) {
      // The frame codec's own check, on the bytes that would have been encoded (meta aside).
      encodeFrame(msg, this.maxFrameBytes);
    }
    await this.transport.send(to, parts);
    this.stats.bytesSent += n;
    this.stats.framesSent++;
  }

  /**
   * True when a data message of app `app` sent now goes as an encoded frame, through filters that
   * keep no views (`Filter.retainsNoViews`), on a transport whose `send` resolves once the parts
   * are written (`Transport.sendResolvesAfterWrite`): the memory of its segments may then be
   * reused as soon as {@link send} resolved.
   */
  segmentsFreeOnceSent(app: number): boolean {
    const t = this.transport;
    if (t.passesFramesByReference === true || t.sendResolvesAfterWrite !== true) return false;
    return chainFor(this.filters, this.appFilters, app).every((f) => f.retainsNoViews === true);
  }

  /** Stops decoding and closes the transport. */
  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.transport.close();
    this.messagesSubject.complete();
    this.errorsSubject.complete();
  }
}
