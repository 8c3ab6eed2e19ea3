import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { type FrameAddress, type FrameChannel, InboundBudget, isPsError, PsErrorCode } from '@ps/core';
import { firstValueFrom, lastValueFrom, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadFrameTransport } from './thread-frame-transport.js';
import { ThreadHub } from './thread-hub.js';

// The worker runs the built package (test-fixtures/frame-echo-worker.mjs imports ../dist): build
// it first (`npm run build`, which `npm test` does).
const ECHO = new URL('../test-fixtures/frame-echo-worker.mjs', import.meta.url);
const limits = () => ({ maxFrameBytes: 64 * 1024 * 1024, budget: new InboundBudget() });

describe('ThreadFrameTransport across worker threads', () => {
  let hub: ThreadHub | undefined;
  const workers: Worker[] = [];
  const media: ThreadFrameTransport[] = [];
  afterEach(async () => {
    await Promise.all(media.splice(0).map((m) => m.close()));
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
    hub?.close();
    hub = undefined;
  });

  /** Starts an echo worker and dials it from this thread. */
  const echo = async (): Promise<{ worker: Worker; channel: FrameChannel }> => {
    hub ??= new ThreadHub();
    const port = hub.connectPort();
    const worker = new Worker(ECHO, { workerData: { port }, transferList: [port] });
    workers.push(worker);
    const [report] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'error').then(([err]) => {
        throw err;
      }),
    ])) as [{ ready: FrameAddress } | { error: string }];
    if ('error' in report) throw new Error(`echo worker: ${report.error}`);
    const main = new ThreadFrameTransport({ port: hub.connectPort() });
    media.push(main);
    return { worker, channel: await main.dial(report.ready, limits(), 10_000) };
  };

  it('echoes a 9 MiB frame of three parts byte-exact, as one 8-aligned buffer', async () => {
    const { channel } = await echo();
    const parts = [new Uint8Array(3), new Uint8Array(9 * 1024 * 1024), new Uint8Array(5)];
    let x = 0x9e3779b9;
    for (const p of parts) {
      for (let i = 0; i < p.length; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        p[i] = x >>> 24;
      }
    }
    const reply = firstValueFrom(channel.frames$.pipe(timeout(30_000)));
    await channel.send(parts);
    const back = (await reply) as Uint8Array;
    expect(back.byteOffset % 8).toBe(0);
    expect(back.byteLength).toBe(3 + 9 * 1024 * 1024 + 5);
    const expected = Buffer.concat(parts);
    expect(Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), expected)).toBe(0);
  });

  it('fails the channel with PS_ERR_PEER_UNREACHABLE when the other thread is terminated', async () => {
    const { worker, channel } = await echo();
    const reply = firstValueFrom(channel.frames$.pipe(timeout(10_000)));
    await channel.send([new Uint8Array([1, 2, 3])]);
    expect(Array.from((await reply) as Uint8Array)).toEqual([1, 2, 3]);
    const ended = lastValueFrom(channel.frames$.pipe(timeout(10_000))).catch((e: unknown) => e);
    await worker.terminate();
    expect(isPsError(await ended, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
  });

  it('lets the worker exit by itself once its transport closed, completing the channel', async () => {
    const { worker, channel } = await echo();
    const exited = once(worker, 'exit');
    const ended = lastValueFrom(channel.frames$.pipe(timeout(10_000)), { defaultValue: 'complete' });
    await channel.send([new Uint8Array([0xff])]);
    expect(await ended).toBe('complete');
    const gone = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(gone).toEqual([0]);
  });
});
