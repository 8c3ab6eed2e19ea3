import { type FrameChannel, InboundBudget } from '@ps/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader } from './frame-reader.js';
import { TcpFrameTransport } from './tcp-frames.js';

const made: TcpFrameTransport[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((t) => t.close()));
});

const limits = () => ({ maxFrameBytes: 64 * 1024 * 1024, budget: new InboundBudget(256 * 1024 * 1024) });

/** A frame of `n` bytes whose every byte depends on its index `i` and position. */
function frameOf(i: number, n: number): Uint8Array {
  const f = new Uint8Array(n);
  for (let j = 0; j < n; j++) f[j] = (i * 31 + j * 7 + (j >>> 11)) & 0xff;
  return f;
}

/** The accepted end and the dialed end (which reads through `onread`) of one connection. */
async function pair(): Promise<{ accepted: FrameChannel; dialed: FrameChannel }> {
  const server = new TcpFrameTransport();
  const client = new TcpFrameTransport();
  made.push(server, client);
  let accepted: ((ch: FrameChannel) => void) | undefined;
  const got = new Promise<FrameChannel>((resolve) => {
    accepted = resolve;
  });
  const at = await server.listen({ host: '127.0.0.1', port: 0 }, limits, (ch) => accepted!(ch));
  const dialed = await client.dial(at, limits(), 5000);
  return { accepted: await got, dialed };
}

/** Collects `count` frames of `ch`, as handed out (no copy), or fails after `ms`. */
function collect(ch: FrameChannel, count: number, ms = 20_000): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const frames: Uint8Array[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${frames.length} of ${count} frames`)), ms);
    const sub = ch.frames$.subscribe({
      next: (f) => {
        frames.push(f as Uint8Array);
        if (frames.length === count) {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(frames);
        }
      },
      error: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
  });
}

describe('direct reads of TCP sockets', () => {
  it('hands out frames of every size byte-exact and in order, none overwritten by later reads', async () => {
    const { accepted, dialed } = await pair();
    // Small frames (copied out of the scratch buffer), mid-size ones (views of it), frames just
    // around the 64 KiB direct-read threshold, and large ones (read into their own buffers).
    const sizes = [
      1, 12, 8191, 8192, 9000, 30_000, 65_535, 65_536, 65_540, 70_000, 200_000, 5_000_000, 3, 131_072,
    ];
    const all = [...sizes, ...sizes.map((n) => n + 1), ...sizes.slice().reverse()];
    const arrived = collect(dialed, all.length);
    // Unawaited, back to back, so that frames share reads.
    const sent = all.map((n, i) => accepted.send([frameOf(i, n)]));
    await Promise.all(sent);
    const frames = await arrived;
    // Checked only once every frame arrived: a view of a reused buffer would show later bytes.
    expect(frames.map((f) => f.byteLength)).toEqual(all);
    for (let i = 0; i < all.length; i++) expect(Buffer.compare(frames[i]!, frameOf(i, all[i]!))).toBe(0);
  });

  it('reads the other way (the accepted end, its socket adopted for direct reads) byte-exact too', async () => {
    const { accepted, dialed } = await pair();
    const all = [5, 70_000, 5_000_000, 9000];
    const arrived = collect(accepted, all.length);
    await Promise.all(all.map((n, i) => dialed.send([frameOf(i, n)])));
    const frames = await arrived;
    for (let i = 0; i < all.length; i++) expect(Buffer.compare(frames[i]!, frameOf(i, all[i]!))).toBe(0);
  });
});

describe('FrameReader.tail and filled', () => {
  it('gives the missing part of a frame to read into, and completes the frame', () => {
    const r = new FrameReader(1 << 20);
    const frames: Uint8Array[] = [];
    const on = (f: Uint8Array) => frames.push(f);
    expect(r.tail(1)).toBeUndefined(); // between frames
    const body = frameOf(1, 100_000);
    const head = new Uint8Array(4 + 1000);
    new DataView(head.buffer).setUint32(0, body.byteLength, true);
    head.set(body.subarray(0, 1000), 4);
    r.push(head, on);
    expect(r.tail(200_000)).toBeUndefined(); // fewer bytes missing than asked
    const tail = r.tail(1000)!;
    expect(tail.byteLength).toBe(99_000);
    tail.set(body.subarray(1000, 51_000));
    expect(r.filled(tail, 50_000, on)).toBe(true);
    expect(r.filled(tail, 10, on)).toBe(false); // not the tail any more
    const rest = r.tail(1)!;
    rest.set(body.subarray(51_000));
    expect(r.filled(rest, 49_000, on)).toBe(true);
    expect(frames.length).toBe(1);
    expect(Buffer.compare(frames[0]!, body)).toBe(0);
    expect(r.partialBytes).toBe(0);
  });

  it('says when a chunk was lent out (a frame as a view of it) or only copied from', () => {
    const r = new FrameReader(1 << 20);
    const on = () => undefined;
    const whole = new Uint8Array(4 + 10);
    whole[0] = 10;
    r.push(whole, on);
    expect(r.lent).toBe(true);
    r.lent = false;
    const start = new Uint8Array(4 + 10);
    start[0] = 100; // a frame of 100 bytes, 10 of them here: copied into the frame's buffer
    r.push(start, on);
    expect(r.lent).toBe(false);
  });
});
