import type { MnistRows } from '../nn/evaluate-mnist.js';

const MAGIC = 0x4e4d5350; // 'PSMN', little-endian
const VERSION = 1;
const HEADER = 16;

/**
 * MNIST rows in their binary form, as `pskv serve` sends a browser worker its shard: a 16-byte
 * little-endian header (`'PSMN'`, version 1, count u32, pixels per image u32), the images as
 * Float32 pixels in [0, 1] (`count × 784`, as `loadMnist` holds them), then the labels (Uint8).
 * Runs in Node and in browsers.
 */
export function encodeMnistRows(rows: MnistRows): Uint8Array {
  const pixels = rows.count === 0 ? 0 : rows.images.length / rows.count;
  const out = new Uint8Array(HEADER + rows.images.byteLength + rows.count);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, rows.count, true);
  dv.setUint32(12, pixels, true);
  out.set(new Uint8Array(rows.images.buffer, rows.images.byteOffset, rows.images.byteLength), HEADER);
  out.set(rows.labels.subarray(0, rows.count), HEADER + rows.images.byteLength);
  return out;
}

/** Reads {@link encodeMnistRows}'s form into fresh arrays; undefined for anything else. */
export function decodeMnistRows(bytes: Uint8Array): MnistRows | undefined {
  if (bytes.length < HEADER) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return undefined;
  const count = dv.getUint32(8, true);
  const pixels = dv.getUint32(12, true);
  if (pixels !== 784 || bytes.length !== HEADER + count * pixels * 4 + count) return undefined;
  const at = bytes.byteOffset + HEADER;
  const images = new Float32Array(bytes.buffer.slice(at, at + count * pixels * 4) as ArrayBuffer);
  const labels = bytes.slice(HEADER + count * pixels * 4);
  if (labels.some((l) => l > 9)) return undefined;
  return { images, labels, count };
}
