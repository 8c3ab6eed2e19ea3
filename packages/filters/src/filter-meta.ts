import type { Message, Meta, Segment } from '@ps/core';

/**
 * Helpers for a filter's entry in `meta.filters` (internal to this package). Each returns a new
 * message and never changes the input's meta or data arrays.
 */

/** The message with `data` and `meta.filters[name] = value` (other entries kept). */
export function withFilterMeta(msg: Message, name: string, value: unknown, data: Segment[]): Message {
  // `filters` first, then assigned: a spread that adds a key its source lacks leaves V8's clone
  // fast path (about 1.3 µs against 0.15 for a meta of ten fields on Node 20).
  const meta: Meta = { filters: undefined, ...msg.meta };
  meta.filters = { ...msg.meta.filters, [name]: value };
  return { meta, data };
}

/** `meta.filters[name]`, or undefined when the message carries none. */
export function filterMetaOf(msg: Message, name: string): unknown {
  const filters = msg.meta.filters;
  if (filters === undefined || filters === null || typeof filters !== 'object') return undefined;
  return Object.hasOwn(filters, name) ? filters[name] : undefined;
}

/** The message with `data` and without `meta.filters[name]`; `meta.filters` goes when it empties. */
export function withoutFilterMeta(msg: Message, name: string, data: Segment[]): Message {
  const { [name]: _dropped, ...rest } = msg.meta.filters ?? {};
  const { filters: _all, ...meta } = msg.meta;
  return { meta: Object.keys(rest).length > 0 ? { ...meta, filters: rest } : meta, data };
}
