/**
 * @ps/filters' CommonJS entry: the same exports as `index.ts`, without its top-level await (which
 * CommonJS cannot hold). `await filtersReady` before the first message.
 */
export * from './public-api.js';
