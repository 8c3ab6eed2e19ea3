import net from 'node:net';
import { PsError, PsErrorCode } from '@ps/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader } from './frame-reader.js';
import { BATCH_BYTES, type BatchedFrame, WriteBatch } from './write-batch.js';

/** A connected pair of sockets over 127.0.0.1; the receiving end splits what it reads into frames. */
async function pair() {
  const frames: Uint8Array[] = [];
  const reader = new FrameReader(1 << 24);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  const far = await accepted;
  far.on('data', (c: Buffer) => reader.push(c, (f) => frames.push(f.slice())));
  return { server, client, far, frames };
}

const failed = (err: Error) => new PsError(PsErrorCode.PEER_UNREACHABLE, `write failed: ${err.message}`);

describe('WriteBatch', () => {
  const open: { server: net.Server; client: net.Socket; far: net.Socket }[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) {
      p.client.destroy();
      p.far.destroy();
      await new Promise((r) => p.server.close(r));
    }
  });

  /** The byte length of each write made on `sock` from now on, in order. */
  const recordWrites = (sock: net.Socket): number[] => {
    const writes: number[] = [];
    const write = sock.write.bind(sock);
    sock.write = ((chunk: Uint8Array, cb?: () => void) => {
      writes.push(chunk.byteLength);
      return write(chunk, cb);
    }) as typeof sock.write;
    return writes;
  };

  const frame = (parts: Uint8Array[], settled: string[], name: string): BatchedFrame => ({
    parts,
    len: parts.reduce((n, p) => n + p.byteLength, 0),
    resolve: () => settled.push(`${name} ok`),
    reject: (e) => settled.push(`${name} ${e.code}`),
  });

  it("writes a tick's first frame at once and the rest of the tick with one write, in order", async () => {
    const p = await pair();
    open.push(p);
    const writes = recordWrites(p.client);
    const batch = new WriteBatch(p.client, failed);
    const settled: string[] = [];
    for (let i = 0; i < 8; i++)
      batch.add(frame([new Uint8Array(136).fill(i), new Uint8Array(4000).fill(i)], settled, `f${i}`));
    expect(writes).toEqual([4140]); // the first frame at once, the socket being idle
    expect(batch.heldBytes).toBe(7 * 4140);
    for (let i = 0; i < 200 && p.frames.length < 8; i++) await new Promise((r) => setTimeout(r, 5));
    expect(writes).toEqual([4140, 7 * 4140]);
    expect(batch.heldBytes).toBe(0);
    expect(p.frames.map((f) => [f.byteLength, f[0], f[4135]])).toEqual(
      Array.from({ length: 8 }, (_, i) => [4136, i, i]),
    );
    expect(settled).toEqual(Array.from({ length: 8 }, (_, i) => `f${i} ok`));
    // The next tick's first frame goes at once again.
    batch.add(frame([new Uint8Array(16).fill(8)], settled, 'f8'));
    expect(writes).toEqual([4140, 7 * 4140, 20]);
    for (let i = 0; i < 200 && p.frames.length < 9; i++) await new Promise((r) => setTimeout(r, 5));
    expect(p.frames[8]!.byteLength).toBe(16);
    expect(settled.at(-1)).toBe('f8 ok');
  });

  it("holds even a tick's first frame while the socket has bytes not yet written", async () => {
    const p = await pair();
    open.push(p);
    const batch = new WriteBatch(p.client, failed);
    const settled: string[] = [];
    // Corked, the socket keeps this frame in its buffer: writableLength > 0.
    p.client.cork();
    const head = new Uint8Array([12, 0, 0, 0, ...new Uint8Array(12).fill(7)]);
    p.client.write(head);
    expect(p.client.writableLength).toBeGreaterThan(0);
    const writes = recordWrites(p.client);
    batch.add(frame([new Uint8Array(24).fill(1)], settled, 'a'));
    batch.add(frame([new Uint8Array(24).fill(2)], settled, 'b'));
    expect(writes).toEqual([]);
    expect(batch.heldBytes).toBe(2 * 28);
    p.client.uncork();
    for (let i = 0; i < 200 && p.frames.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(writes).toEqual([2 * 28]);
    expect(p.frames.map((f) => [f.byteLength, f[0]])).toEqual([
      [12, 7],
      [24, 1],
      [24, 2],
    ]);
    expect(settled).toEqual(['a ok', 'b ok']);
  });

  it('writes at once past the high-water mark, a large segment as its own view', async () => {
    const p = await pair();
    open.push(p);
    const writes = recordWrites(p.client);
    const batch = new WriteBatch(p.client, failed);
    const settled: string[] = [];
    const big = new Uint8Array(BATCH_BYTES).fill(9);
    batch.add(frame([new Uint8Array(24).fill(1), big], settled, 'big'));
    expect(batch.heldBytes).toBe(0);
    expect(writes).toEqual([28, BATCH_BYTES]); // at once, the large part not copied
    for (let i = 0; i < 200 && p.frames.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(p.frames.length).toBe(1);
    expect(p.frames[0]!.byteLength).toBe(24 + big.byteLength);
    expect([p.frames[0]![0], p.frames[0]![24], p.frames[0]![p.frames[0]!.byteLength - 1]]).toEqual([1, 9, 9]);
    expect(settled).toEqual(['big ok']);
  });

  it('rejects the frames held when the socket is destroyed before the tick ends', async () => {
    const p = await pair();
    open.push(p);
    const batch = new WriteBatch(p.client, failed);
    const settled: string[] = [];
    batch.add(frame([new Uint8Array(16)], settled, 'a')); // written at once
    batch.add(frame([new Uint8Array(16)], settled, 'b'));
    batch.add(frame([new Uint8Array(16)], settled, 'c'));
    expect(batch.heldBytes).toBe(2 * 20);
    p.client.destroy();
    await new Promise((r) => process.nextTick(r));
    expect(settled.filter((s) => !s.startsWith('a '))).toEqual([
      'b PS_ERR_PEER_UNREACHABLE',
      'c PS_ERR_PEER_UNREACHABLE',
    ]);
    for (let i = 0; i < 200 && !settled.some((s) => s.startsWith('a ')); i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(settled.filter((s) => s.startsWith('a ')).length).toBe(1); // settled once, either way
  });
});
