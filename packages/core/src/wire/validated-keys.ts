import { sameKeys } from '../store/key-list-cache.js';
import { KeySamples } from './key-samples.js';
import { validateKeys } from './kv-pairs.js';
import { RepeatHint } from './repeat-hint.js';
import { sharedKeyLists } from './shared-key-lists.js';

/**
 * Validates key lists, remembering the last long one it passed: a list byte-identical to it
 * (the same keys pushed again, as dense models and benchmarks do) is checked by one memcmp
 * instead of the ordering loop. Recognised by content, never by identity, so arrays may be
 * refilled in place between requests. The copy that recognises a list is taken only once the
 * list repeats ({@link RepeatHint}), so lists that never repeat are not copied.
 */
export class ValidatedKeys {
  private last: BigUint64Array | undefined;
  private version = 0;
  /** The sender's tag and incarnation that last vouched for `last`, and the version it maps to. */
  private vouch: { tag: number; inc: string; version: number } | undefined;
  private readonly hint = new RepeatHint();
  /** The last list that matched, when it is one of {@link sharedKeyLists} (trusted by identity). */
  private shared: BigUint64Array | undefined;
  /** The list the caller last declared with a tag (`RequestOptions.keysTag`), and its version. */
  private declared: { keys: BigUint64Array; tag: number; version: number } | undefined;
  /** Samples of `declared.keys` when it was validated: a guard against a broken declaration. */
  private readonly samples = new KeySamples();

  /** @param minKeys shorter lists are validated every time (cheaper than keeping a copy). */
  constructor(readonly minKeys = 4096) {}

  /**
   * Validates `keys`. Returns a tag: the same number for consecutive calls with the same long
   * list (so a consumer can recognise a repeat without comparing again), or -1 for a short list.
   * With `declaredTag` (the caller's `RequestOptions.keysTag`), the very array validated last
   * under the same tag is trusted without a compare (see `declare`).
   * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE`, as `validateKeys`.
   */
  validate(keys: BigUint64Array, declaredTag?: number): number {
    if (declaredTag !== undefined) return this.declare(keys, declaredTag);
    const long = keys.length >= this.minKeys && keys instanceof BigUint64Array;
    if (long && this.last) {
      if (keys === this.shared) return this.version;
      if (sameKeys(this.last, keys)) {
        if (sharedKeyLists.has(keys)) this.shared = keys;
        return this.version;
      }
    }
    this.shared = undefined;
    validateKeys(keys);
    if (!long) return -1;
    // A list kept only once it repeats; meanwhile nothing is remembered, so a tag always names
    // the latest list (an older copy must not match under the new list's tag).
    this.last = this.hint.see(keys) ? keys.slice() : undefined;
    return ++this.version;
  }

  /**
   * As `validate`, for a list its caller tagged `tag` (`RequestOptions.keysTag`): the very array
   * validated last, under the same tag, with no other list validated since, is trusted to hold
   * the same keys, so neither the ordering loop nor a compare runs (a few reads: its length and 8
   * sampled keys must still be what they were, which catches most but not every list changed in
   * place under an old tag). Any other array, tag or list in between takes the full path.
   */
  private declare(keys: BigUint64Array, tag: number): number {
    const d = this.declared;
    if (d && d.keys === keys && d.tag === tag && d.version === this.version && this.samples.same(keys)) {
      return this.version;
    }
    this.declared = undefined;
    const mine = this.validate(keys);
    if (mine >= 0) {
      this.declared = { keys, tag, version: mine };
      this.samples.take(keys);
    }
    return mine;
  }

  /**
   * As `validate`, for keys a worker in this thread validated itself and tagged `tag` (its own
   * `ValidatedKeys`, in incarnation `inc`): the same tag as the list validated here last means
   * the same keys, so neither the ordering loop nor the memcmp runs. Any other list validated
   * here since voids that.
   */
  vouched(keys: BigUint64Array, tag: number, inc: string): number {
    const v = this.vouch;
    if (v && v.tag === tag && v.inc === inc && v.version === this.version) return this.version;
    const mine = this.validate(keys);
    this.vouch = mine >= 0 ? { tag, inc, version: mine } : undefined;
    return mine;
  }
}
