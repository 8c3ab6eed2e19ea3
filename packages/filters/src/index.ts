/**
 * @ps/filters: bandwidth filters (significant-update, key caching, LZ4, quantization).
 *
 * Not implemented yet: this package is a skeleton until its issue ("Bandwidth filters") lands.
 * It exports only its status so that nothing fake stands in for a filter.
 */
export const FILTERS_STATUS = 'skeleton' as const;
