import { map, type Observable, Subject } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { ValArray } from '../wire/kv-pairs.js';
import { batchKeys } from './batch-keys.js';
import { UpdateSubscription } from './update-subscription.js';
import { resolveUpdatesOptions, type UpdatesOptions } from './updates-options.js';

/** One batch of updated keys (see `KVServer.updates$`). */
export interface UpdateBatch {
  /** The keys updated since the previous batch, strictly increasing, each once. */
  keys: BigUint64Array;
  /**
   * With `values: true`: the keys' values when the batch was cut, in key order, as a pull
   * answers them (`vals.length / keys.length` per key, or `lens`).
   */
  vals?: ValArray;
  /** With `values: true` and a table of variable-length values: values per key. */
  lens?: Int32Array;
}

/**
 * Reads the current values of keys (a pull on the server's own table); throws when the handler
 * cannot answer synchronously.
 */
export type ValuesReader = (keys: BigUint64Array) => { vals: ValArray; lens?: Int32Array | undefined };

/**
 * A server's feed of updated keys: the server reports each push it applied as master
 * ({@link UpdateFeed.applied}); subscribers get them batched. Nobody subscribed: `applied`
 * is never called (the server checks {@link UpdateFeed.active}), so an idle feed costs one
 * property read per push.
 */
export class UpdateFeed {
  private readonly keys$ = new Subject<BigUint64Array>();

  /** @param readValues Reads current values for `values: true`; undefined for a handler without a table. */
  constructor(private readonly readValues: ValuesReader | undefined) {}

  /** True while someone subscribes: only then does the server report applied keys. */
  get active(): boolean {
    return this.keys$.observed;
  }

  /** Reports the keys of a push applied here (copied by each subscriber that holds them). */
  applied(keys: BigUint64Array): void {
    this.keys$.next(keys);
  }

  /** Ends every subscription (the server terminates): held keys are emitted first. */
  close(): void {
    this.keys$.complete();
  }

  /** See `KVServer.updates$`. @throws PsError `PS_ERR_CONFIG` for bad options or `values` without a table. */
  updates$(opts?: UpdatesOptions): Observable<UpdateBatch> {
    const o = resolveUpdatesOptions(opts);
    const cut = this.cutter(o.values);
    return this.keys$.asObservable().pipe(batchKeys(o), map(cut));
  }

  /** See `KVServer.subscribeUpdates`. @throws PsError `PS_ERR_CONFIG` as `updates$`. */
  subscribe(opts?: UpdatesOptions): UpdateSubscription {
    const o = resolveUpdatesOptions(opts);
    return new UpdateSubscription(this.keys$, o, this.cutter(o.values));
  }

  private cutter(values: boolean): (keys: BigUint64Array) => UpdateBatch {
    if (!values) return (keys) => ({ keys });
    const read = this.readValues;
    if (!read) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'updates: values: true needs a table-backed handler (the built-ins); subscribe to keys only and pull their values with a worker',
      );
    }
    return (keys) => {
      const { vals, lens } = read(keys);
      return lens ? { keys, vals, lens } : { keys, vals };
    };
  }
}
