import type { ValArray } from './kv-pairs.js';
import type { Message, Segment } from './message.js';

/**
 * A data message handed over in one thread without being encoded: what a transport that passes
 * frames by reference (`Transport.passesFramesByReference`, the in-process transport) carries
 * instead of a frame. The sender's endpoint attaches the message to the parts array under a
 * registered symbol (shared by every copy of @ps/core in the process); the receiver's endpoint
 * reads it back. The parts themselves are an 8-byte marker and the segments' bytes (views, not
 * copies), so a transport's size limits see the real payload, and an endpoint that does not know
 * the marker rejects it as a frame of an unknown version instead of misreading it.
 *
 * Encoding the meta with msgpack and decoding it again costs more than everything else a small
 * request does in process; the segments were never copied on this path anyway.
 */
const LOCAL = Symbol.for('@ps/core.localMessage.v1');
const HINT = Symbol.for('@ps/core.localHint.v1');

type LocalParts = Uint8Array[] & { [LOCAL]?: Message };

/**
 * What a worker tells a server in the same thread beside a request, never on a wire: a request
 * framed for a socket drops it, and the server then does what it does for any peer.
 */
export interface LocalHint {
  /**
   * The caller's buffer for the answer (`pull(keys, { into })`): the handler may write the
   * values there instead of into a fresh array, while `live()` is true (the request is still
   * waited for; a late or repeated handling must not write into a buffer handed back).
   */
  into?: { vals: ValArray; live(): boolean };
  /**
   * The worker validated these very keys (the array sent) as its long list number `tag` of
   * incarnation `inc`: the same tag again means the same keys again, checked by the worker.
   */
  keys?: { tag: number; inc: string };
}

type HintedData = Segment[] & { [HINT]?: LocalHint };

/** Attaches `hint` to a message's segment list (what the worker sends). */
export function withLocalHint(data: Segment[], hint: LocalHint): Segment[] {
  (data as HintedData)[HINT] = hint;
  return data;
}

/** The hint a request came with, when it came from a worker in this thread. */
export function localHintOf(data: readonly Segment[]): LocalHint | undefined {
  return (data as HintedData)[HINT];
}

/** 'P', 'S', version 0xff: never a frame version, so a decoder rejects it cleanly. */
const MARKER = new Uint8Array([0x50, 0x53, 0xff, 0, 0, 0, 0, 0]);

/** The segment types the frame codec carries (any other type takes the codec's path and error). */
const CARRIED: readonly unknown[] = [
  Uint8Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
];

const MAX_SEGMENTS = 255;

/**
 * The parts that carry `msg` by reference, or undefined when it must be encoded (a control
 * message, whose body would be shared; filter state; more segments or another segment type than
 * the frame codec takes, so that the codec reports the error).
 */
export function localFrame(msg: Message): Uint8Array[] | undefined {
  const { meta, data } = msg;
  if (meta.cmd !== undefined || meta.body !== undefined || meta.filters !== undefined) return undefined;
  if (data.length > MAX_SEGMENTS) return undefined;
  const parts: LocalParts = [MARKER];
  for (const seg of data) {
    if (!CARRIED.includes(seg.constructor)) return undefined;
    if (seg.byteLength > 0) parts.push(asBytes(seg));
  }
  parts[LOCAL] = msg;
  return parts;
}

/**
 * The message a local frame carries, as the receiver's own copy of its meta and segment list
 * (the segments are the sender's arrays, as a frame decoded in place would view them), or
 * undefined for an ordinary frame.
 */
export function localMessage(frame: Uint8Array | readonly Uint8Array[]): Message | undefined {
  if (frame instanceof Uint8Array) return undefined;
  const msg = (frame as LocalParts)[LOCAL];
  if (msg === undefined) return undefined;
  const meta = { ...msg.meta };
  if (meta.deps) meta.deps = [...meta.deps];
  if (meta.error) meta.error = { ...meta.error };
  const data: HintedData = msg.data.slice();
  const hint = (msg.data as HintedData)[HINT];
  if (hint) data[HINT] = hint;
  return { meta, data };
}

function asBytes(seg: Segment): Uint8Array {
  return seg instanceof Uint8Array ? seg : new Uint8Array(seg.buffer, seg.byteOffset, seg.byteLength);
}
