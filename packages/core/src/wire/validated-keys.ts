import { sameKeys } from '../store/key-list-cache.js';
import { validateKeys } from './kv-pairs.js';
import { RepeatHint } from './repeat-hint.js';
import { isSealed } from './seal-keys.js';
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
  /**
   * The current list when it is trusted by identity: one of {@link sharedKeyLists} that matched
   * `last`, or a list passed to `sealKeys`.
   */
  private shared: BigUint64Array | undefined;
  /**
   * The last short list (under `minKeys`) that passed and is one of {@link sharedKeyLists}: never
   * changed by its owner, so it is trusted by identity instead of checked every request (the
   * 1,000-key lists key-list reuse hands a server every request).
   */
  private shortShared: BigUint64Array | undefined;

  /** @param minKeys shorter lists are validated every time (cheaper than keeping a copy). */
  constructor(readonly minKeys = 4096) {}

  /**
   * Validates `keys`. Returns a tag: the same number for consecutive calls with the same long
   * list (so a consumer can recognise a repeat without comparing again), or -1 for a short list.
   * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE`, as `validateKeys`.
   */
  validate(keys: BigUint64Array): number {
    const long = keys.length >= this.minKeys && keys instanceof BigUint64Array;
    if (!long && keys === this.shortShared) return -1;
    // A sealed list was validated when sealed and never changes: trusted by identity, no copy.
    if (isSealed(keys)) {
      if (!long) return -1;
      if (keys === this.shared) return this.version;
      this.shared = keys;
      this.last = undefined; // the tag now names this list; no older copy may match under it
      return ++this.version;
    }
    if (long && this.last) {
      if (keys === this.shared) return this.version;
      if (sameKeys(this.last, keys)) {
        if (sharedKeyLists.has(keys)) this.shared = keys;
        return this.version;
      }
    }
    this.shared = undefined;
    validateKeys(keys);
    if (!long) {
      if (sharedKeyLists.has(keys)) this.shortShared = keys;
      return -1;
    }
    // A list kept only once it repeats; meanwhile nothing is remembered, so a tag always names
    // the latest list (an older copy must not match under the new list's tag).
    this.last = this.hint.see(keys) ? keys.slice() : undefined;
    return ++this.version;
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
