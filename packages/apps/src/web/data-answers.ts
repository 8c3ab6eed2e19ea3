import { gzipSync } from 'node:zlib';
import type { DataAnswer } from './serve-slr-data.js';

// The answers of the data routes browser workers read (`slrDataRoute`, `nnDataRoute`).

/** A plain-text answer: `msg` and a newline, UTF-8. */
export const textAnswer = (status: number, msg: string): DataAnswer => ({
  status,
  type: 'text/plain; charset=utf-8',
  body: new TextEncoder().encode(`${msg}\n`),
});

/** A 200 of binary rows (`application/octet-stream`), gzipped at level 1 when `gzip`. */
export const bytesAnswer = (plain: Uint8Array, gzip: boolean): DataAnswer => ({
  status: 200,
  type: 'application/octet-stream',
  body: gzip ? gzipSync(plain, { level: 1 }) : plain,
  headers: gzip ? { 'content-encoding': 'gzip' } : {},
});
