import type { NodeId } from '../wire/message.js';
import { RepeatHint } from '../wire/repeat-hint.js';

/** What a table handler remembers about a key list it has resolved. */
export interface ResolvedKeys {
  /** Table entry of each key (all present). */
  entries: Int32Array;
  /** Values per key the entries hold. */
  width: number;
  /**
   * Offset of the first key's values when the entries are consecutive with `width` values each,
   * so that the whole request is one run of `keys.length * width` values; -1 otherwise.
   */
  run: number;
  /**
   * When the entries form a few contiguous stretches (more than one, at most one per 32 keys on
   * average): `(first key index, value offset, key count)` triples, in key order; see
   * `findKeyRuns` in the handlers.
   */
  runs?: Int32Array | undefined;
  /** Value offset of each key, when they are scattered but all of `width` values. */
  offsets?: Int32Array | undefined;
  /** True when every key is present (`entries[i] >= 0` for all i): a pull writes every value. */
  complete: boolean;
}

const buffer = (globalThis as { Buffer?: typeof import('node:buffer').Buffer }).Buffer;

/** True when two key arrays hold the same keys (memcmp speed where Node's Buffer exists). */
export function sameKeys(a: BigUint64Array, b: BigUint64Array): boolean {
  if (a.length !== b.length) return false;
  if (buffer) {
    return (
      buffer.compare(
        buffer.from(a.buffer, a.byteOffset, a.byteLength),
        buffer.from(b.buffer, b.byteOffset, b.byteLength),
      ) === 0
    );
  }
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The last key list each sender used, with its resolved entries: a worker that pushes and pulls
 * the same keys again (every iteration of a dense model, the benchmark) skips the hash lookups.
 * A list is recognised by content (a copy is kept), never by object identity, so a worker may
 * reuse and refill its arrays. Entries never move in a KVTable, so a remembered list stays valid.
 * A list is copied only once it repeats (its sender's previous list sampled the same, see
 * {@link RepeatHint}): a sender whose lists never repeat costs no copies, and one that repeats
 * pays one more lookup before its list is remembered.
 */
export class KeyListCache {
  private readonly last = new Map<
    NodeId,
    { keys: BigUint64Array; tag: number | undefined; resolved: ResolvedKeys }
  >();
  private readonly hints = new Map<NodeId, RepeatHint>();

  /** @param minKeys lists shorter than this are not worth remembering. */
  constructor(readonly minKeys = 32) {}

  /** `tag`: the request's `keysTag`; an equal tag proves equal keys without a compare. */
  get(sender: NodeId, keys: BigUint64Array, tag?: number): ResolvedKeys | undefined {
    if (keys.length < this.minKeys) return undefined;
    const hit = this.last.get(sender);
    if (!hit) return undefined;
    if (tag !== undefined && hit.tag === tag) return hit.resolved;
    if (!sameKeys(hit.keys, keys)) return undefined;
    // The same keys under a new tag (the sender's validation memo moved on and came back, or
    // the list was sealed): the tag proves them from now on, so later requests need no compare.
    if (tag !== undefined) hit.tag = tag;
    return hit.resolved;
  }

  /** Remembers `keys` and their entries, if they repeat the sender's previous list (see the class). */
  set(sender: NodeId, keys: BigUint64Array, resolved: ResolvedKeys, tag?: number): void {
    if (keys.length < this.minKeys) return;
    let hint = this.hints.get(sender);
    if (hint === undefined) {
      hint = new RepeatHint();
      this.hints.set(sender, hint);
    }
    if (!hint.see(keys)) return;
    this.last.set(sender, {
      keys: keys.slice(),
      tag,
      resolved: { ...resolved, entries: resolved.entries.slice() },
    });
  }
}
