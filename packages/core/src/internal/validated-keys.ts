import { validateKeys } from '../kv-pairs.js';
import { sameKeys } from './key-list-cache.js';

/**
 * Validates key lists, remembering the last long one it passed: a list byte-identical to it
 * (the same keys pushed again, as dense models and benchmarks do) is checked by one memcmp
 * instead of the ordering loop. Recognised by content, never by identity, so arrays may be
 * refilled in place between requests.
 */
export class ValidatedKeys {
  private last: BigUint64Array | undefined;
  private version = 0;
  /** The sender's tag and incarnation that last vouched for `last`, and the version it maps to. */
  private vouch: { tag: number; inc: string; version: number } | undefined;

  /** @param minKeys shorter lists are validated every time (cheaper than keeping a copy). */
  constructor(readonly minKeys = 4096) {}

  /**
   * Validates `keys`. Returns a tag: the same number for consecutive calls with the same long
   * list (so a consumer can recognise a repeat without comparing again), or -1 for a short list.
   * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE`, as `validateKeys`.
   */
  validate(keys: BigUint64Array): number {
    const long = keys.length >= this.minKeys && keys instanceof BigUint64Array;
    if (long && this.last && sameKeys(this.last, keys)) return this.version;
    validateKeys(keys);
    if (!long) return -1;
    this.last = keys.slice();
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
