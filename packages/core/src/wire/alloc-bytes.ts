const nodeBuffer = (globalThis as { Buffer?: typeof import('node:buffer').Buffer }).Buffer;

/**
 * A fresh, 8-aligned byte array of `n` bytes whose content is NOT zeroed, for buffers that are
 * overwritten in full at once (frames being received, pulled values copied out). Skipping the
 * zero fill matters for multi-megabyte frames. On Node this is `Buffer.allocUnsafeSlow` (never a
 * slice of a shared pool: its own ArrayBuffer, offset 0); elsewhere a zeroed ArrayBuffer.
 */
export function allocBytes(n: number): Uint8Array {
  if (nodeBuffer && n >= 4096) {
    const b = nodeBuffer.allocUnsafeSlow(n);
    return new Uint8Array(b.buffer, b.byteOffset, n);
  }
  return new Uint8Array(n);
}
