import type { Message, NodeId, Segment } from './message.js';

/** Who a filter talks to, and which keys the message concerns. */
export interface FilterContext {
  /** The recipient when encoding, the sender when decoding. */
  peer: NodeId;
  /**
   * The keys of the request this message is or answers, when the node knows them: for a request
   * they are also its first segment (before any filter replaced it); for a response to a pull
   * (which carries no keys) they are the keys the request asked for, in the same order as the
   * values. Undefined when unknown (a filter must then leave the message as it is, or fail).
   */
  keys?: BigUint64Array;
}

/** Bytes a filter saw and produced (the data segments only), for reports of what it saved. */
export interface FilterStats {
  /** Messages encoded. */
  messages: number;
  /** Segment bytes before encoding. */
  bytesIn: number;
  /** Segment bytes after encoding. */
  bytesOut: number;
}

/**
 * A bandwidth filter (OSDI 2014, sections 3.6 and 4.2): a pair of transforms of a data message,
 * with per-peer state kept by the filter itself. A chain encodes in list order on send and
 * decodes in reverse order on receive, like RxJS operators. Filters see data messages only
 * (push and pull requests and their responses), never control commands.
 *
 * Message layout a filter may rely on (`meta.request`, `meta.push`, `meta.pull`):
 * - request with push: `[keys: BigUint64Array, vals: Float32Array | Float64Array, lens?: Int32Array]`
 * - request, pull only: `[keys]`
 * - response to a pull: `[vals, lens?]`; response to a pure push: `[]`
 * A filter that changes a segment's encoding records what it did under `meta.filters[name]`, so
 * that its decode can undo it; decode returns the layout above.
 */
export interface Filter {
  /** Short stable name (`lz4`, `quantize`, ...): the key of its state in `meta.filters`. */
  readonly name: string;
  /**
   * The name with every parameter both ends must share (`quantize:8`): nodes of one cluster must
   * list the same signatures in the same order.
   */
  readonly signature: string;
  /** True when decode(encode(m)) gives back m exactly. */
  readonly lossless: boolean;
  /** For a lossy filter: the bound on the error of each value, in words. */
  readonly errorBound?: string;
  readonly stats: FilterStats;
  /**
   * True when `decode` keeps no reference to the message it is given nor to its segments (it
   * returns them, or copies): a node may then reuse the memory of a received frame once it is
   * done with the decoded message (see `largeBufferPool`). Leave unset when in doubt.
   */
  readonly retainsNoViews?: boolean;
  /** Transforms a message before it is sent to `ctx.peer`. Must not change the input's arrays. */
  encode(msg: Message, ctx: FilterContext): Message;
  /** Undoes `encode` on a message received from `ctx.peer`. */
  decode(msg: Message, ctx: FilterContext): Message;
}

/** Total bytes of a message's data segments. */
export function segmentBytes(data: readonly Segment[]): number {
  let n = 0;
  for (const s of data) n += s.byteLength;
  return n;
}

/** The signature of a chain: its filters' signatures in order, comma-separated. */
export function chainSignature(filters: readonly Filter[]): string {
  return filters.map((f) => f.signature).join(',');
}

/**
 * Filter chains by app id: the apps listed run their own chain (an empty list: no filter at all)
 * instead of a node's default chain. An app that needs exact values (a progress clock, counters)
 * is listed with `[]`, so that lossy filters never touch it.
 */
export type AppFilters = Readonly<Record<number, readonly Filter[]>>;

/** The chain app `app` runs: its own from `perApp`, else the default. */
export function chainFor(
  filters: readonly Filter[],
  perApp: AppFilters | undefined,
  app: number,
): readonly Filter[] {
  return perApp?.[app] ?? filters;
}

/**
 * The signature of a node's chains: the default chain's, then `;<app>=<chain>` for each app with
 * its own chain, in app order (the default chain's alone when no app has one, as before per-app
 * chains existed). Nodes of one cluster must have the same.
 */
export function chainsSignature(filters: readonly Filter[], perApp: AppFilters | undefined): string {
  const apps = Object.keys(perApp ?? {})
    .map(Number)
    .sort((a, b) => a - b);
  return [chainSignature(filters), ...apps.map((a) => `${a}=${chainSignature(perApp![a]!)}`)].join(';');
}

/** Runs a chain's encoders in list order, counting each filter's bytes in and out. */
export function encodeChain(filters: readonly Filter[], msg: Message, ctx: FilterContext): Message {
  let m = msg;
  for (const f of filters) {
    const before = segmentBytes(m.data);
    m = f.encode(m, ctx);
    f.stats.messages++;
    f.stats.bytesIn += before;
    f.stats.bytesOut += segmentBytes(m.data);
  }
  return m;
}

/** Runs a chain's decoders in reverse order. */
export function decodeChain(filters: readonly Filter[], msg: Message, ctx: FilterContext): Message {
  let m = msg;
  for (let i = filters.length - 1; i >= 0; i--) m = filters[i]!.decode(m, ctx);
  return m;
}
