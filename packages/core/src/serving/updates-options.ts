import { PsError, PsErrorCode } from '../errors.js';

/** How a subscriber's batches of updated keys are cut (see `KVServer.updates$`). */
export interface UpdatesOptions {
  /**
   * Most keys in one batch; a batch is cut as soon as this many keys are held, before the
   * interval ends. An integer from 1 to 16,777,216. Default 65,536.
   */
  maxKeys?: number;
  /**
   * Longest time, in ms, between a key's update and the batch that carries it (the first key
   * after a batch starts the clock). From 0 to 3,600,000. Default 100.
   */
  intervalMs?: number;
  /**
   * Also read each batch's values, as the table holds them when the batch is cut (so a key
   * updated several times carries its latest value once). Needs a table-backed handler (the
   * built-ins). Default false: keys only.
   */
  values?: boolean;
}

/** {@link UpdatesOptions} with every default filled in. */
export type ResolvedUpdatesOptions = Required<UpdatesOptions>;

export const DEFAULT_UPDATE_BATCH_KEYS = 65_536;
export const DEFAULT_UPDATE_INTERVAL_MS = 100;

/**
 * Fills in the defaults of `opts`.
 * @throws PsError `PS_ERR_CONFIG` when `maxKeys` is not an integer from 1 to 2^24, `intervalMs`
 *   not a number of ms from 0 to 3,600,000, or `values` not a boolean.
 */
export function resolveUpdatesOptions(opts: UpdatesOptions = {}): ResolvedUpdatesOptions {
  const maxKeys = opts.maxKeys ?? DEFAULT_UPDATE_BATCH_KEYS;
  const intervalMs = opts.intervalMs ?? DEFAULT_UPDATE_INTERVAL_MS;
  const values = opts.values ?? false;
  if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 2 ** 24) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `updates: maxKeys must be an integer from 1 to 16,777,216 (keys per batch), got ${maxKeys}`,
    );
  }
  if (typeof intervalMs !== 'number' || !(intervalMs >= 0 && intervalMs <= 3_600_000)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `updates: intervalMs must be a number of ms from 0 to 3,600,000, got ${intervalMs}`,
    );
  }
  if (typeof values !== 'boolean') {
    throw new PsError(PsErrorCode.CONFIG, `updates: values must be true or false, got ${String(values)}`);
  }
  return { maxKeys, intervalMs, values };
}
