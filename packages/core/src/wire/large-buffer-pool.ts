import { allocBytes } from './alloc-bytes.js';

/** Options of a {@link LargeBufferPool}. */
export interface LargeBufferPoolOptions {
  /** Idle bytes the pool keeps for reuse, all size classes together; past it a release is dropped (left to the collector). Default 64 MiB. */
  maxIdleBytes?: number;
  /** Smallest request served from the pool, in bytes; smaller ones get a fresh buffer, never pooled. Default 64 KiB. */
  minBytes?: number;
}

/** Counts of a {@link LargeBufferPool} since it was made. */
export interface LargeBufferPoolStats {
  /** Buffers given out by `take` (pooled sizes only). */
  taken: number;
  /** Of `taken`, those that were an idle buffer given back before (no allocation). */
  reused: number;
  /** Releases accepted (the buffer was out); kept for reuse or dropped past the cap. */
  released: number;
  /** Of `released`, those dropped because the idle bytes would pass `maxIdleBytes`. */
  dropped: number;
  /** Releases refused: the buffer was not out (never taken here, or released already). */
  refused: number;
  /** Bytes held idle now. */
  idleBytes: number;
}

/**
 * A bounded pool of large byte buffers (64 KiB and up), so that a multi-megabyte frame or answer
 * made once per request reuses the memory of an earlier one instead of costing a fresh
 * allocation, its page faults and garbage-collector pressure each time.
 *
 * `take(n)` gives a view `[0, n)` of a buffer of its size class (n rounded up to a quarter of a
 * power of two: at most 25% more memory), offset 0, so 8-aligned; its content is NOT zeroed.
 * `release(buf)` gives it back. The pool remembers which buffers are out (weakly: a buffer
 * taken and never released is only garbage, never a leak), so a buffer is never given out twice
 * while out, and a second release, or a release of a buffer not taken here, is refused and does
 * nothing.
 *
 * The ownership rule (the pool cannot check it, its callers must): release a buffer only once
 * nobody holds or will read a view of it any more, since the next `take` of its class writes
 * over it. Being conservative is always safe: never releasing costs what a fresh buffer costs.
 * Where this library releases (see `ownedFrameOf`): the worker's answer frame of a pull whose
 * values were copied into the caller's `into` (or into a fresh array joining several servers).
 */
export class LargeBufferPool {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private readonly out = new WeakSet<ArrayBuffer>();
  private readonly maxIdleBytes: number;
  private readonly minBytes: number;
  private readonly counts: LargeBufferPoolStats = {
    taken: 0,
    reused: 0,
    released: 0,
    dropped: 0,
    refused: 0,
    idleBytes: 0,
  };

  constructor(opts: LargeBufferPoolOptions = {}) {
    this.maxIdleBytes = opts.maxIdleBytes ?? 64 * 1024 * 1024;
    this.minBytes = Math.max(1, opts.minBytes ?? 64 * 1024);
  }

  /** The pool's counts (a copy). */
  get stats(): LargeBufferPoolStats {
    return { ...this.counts };
  }

  /** Bytes of the buffers of the size class that serves a request of `n` bytes. */
  static classBytes(n: number): number {
    const step = 2 ** Math.max(0, Math.floor(Math.log2(n)) - 2);
    return Math.ceil(n / step) * step;
  }

  /**
   * `n` bytes, NOT zeroed, 8-aligned: from the pool when `n >= minBytes` (a view of an idle
   * buffer of its class, or of a new one), else a fresh buffer that the pool never takes back.
   */
  take(n: number): Uint8Array {
    if (n < this.minBytes) return allocBytes(n);
    const size = LargeBufferPool.classBytes(n);
    const list = this.idle.get(size);
    let buf = list?.pop();
    this.counts.taken++;
    if (buf !== undefined) {
      this.counts.reused++;
      this.counts.idleBytes -= size;
    } else buf = allocBytes(size).buffer as ArrayBuffer;
    this.out.add(buf);
    return new Uint8Array(buf, 0, n);
  }

  /** True when `buf` (or the buffer under a view) was taken here and is not released yet. */
  owns(buf: ArrayBuffer | ArrayBufferView): boolean {
    return this.out.has(bufferOf(buf));
  }

  /**
   * Gives a buffer back (the ownership rule above: nobody may read it after this). True when it
   * was out and is now idle for reuse or dropped past the cap; false (nothing done) when it was
   * not out.
   */
  release(buf: ArrayBuffer | ArrayBufferView): boolean {
    const ab = bufferOf(buf);
    if (!this.out.delete(ab)) {
      this.counts.refused++;
      return false;
    }
    this.counts.released++;
    const size = ab.byteLength;
    if (this.counts.idleBytes + size > this.maxIdleBytes) {
      this.counts.dropped++;
      return true;
    }
    let list = this.idle.get(size);
    if (list === undefined) {
      list = [];
      this.idle.set(size, list);
    }
    list.push(ab);
    this.counts.idleBytes += size;
    return true;
  }

  /** Drops every idle buffer (to the collector); buffers out stay out. */
  clear(): void {
    this.idle.clear();
    this.counts.idleBytes = 0;
  }
}

function bufferOf(buf: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  return (ArrayBuffer.isView(buf) ? buf.buffer : buf) as ArrayBuffer;
}

/** The process's pool of large buffers: frames received over streams, answer frames released by the worker. */
export const largeBufferPool = new LargeBufferPool();
