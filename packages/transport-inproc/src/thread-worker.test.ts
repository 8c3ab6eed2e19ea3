import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { concatParts, decodeFrame, encodeFrame, type Message, type NodeAddress } from '@ps/core';
import { firstValueFrom, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadHub } from './thread-hub.js';
import { type ThreadTransport, threads } from './thread-transport.js';

// The worker runs the built package (test-fixtures/echo-worker.mjs imports ../dist): build it
// first (`npm run build`, which `npm test` does).
const ECHO_WORKER = new URL('../test-fixtures/echo-worker.mjs', import.meta.url);

type Mode = 'listen' | 'dial' | 'once';
type Report = { ready: NodeAddress | { id: string; peer: string } } | { error: string };

function bigMessage(): Message {
  const vals = new Float64Array(1024 * 1024); // 8 MiB
  let x = 0x9e3779b9;
  for (let i = 0; i < vals.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    vals[i] = x / 0x1_0000_0000 - 0.5 + i;
  }
  const keys = new BigUint64Array([1n, 2n ** 63n + 5n]);
  return {
    meta: { sender: 'main', recipient: 'w', app: 3, ts: 42, request: true, push: true, pull: false },
    data: [keys, vals],
  };
}

describe('ThreadTransport across worker threads', () => {
  let hub: ThreadHub | undefined;
  const workers: Worker[] = [];
  const transports: ThreadTransport[] = [];

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
    hub?.close();
    hub = undefined;
  });

  const start = async (mode: Mode, id: string, target?: NodeAddress) => {
    hub ??= new ThreadHub();
    const port = hub.connectPort();
    const worker = new Worker(ECHO_WORKER, { workerData: { port, id, mode, target }, transferList: [port] });
    workers.push(worker);
    const [report] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'error').then(([err]) => {
        throw err;
      }),
    ])) as [Report];
    if ('error' in report) throw new Error(`worker ${id}: ${report.error}`);
    return { worker, ready: report.ready };
  };

  const mainTransport = () => {
    hub ??= new ThreadHub();
    const t = threads({ port: hub.connectPort() });
    transports.push(t);
    return t;
  };

  it('echoes an 8 MiB frame from a listening worker byte-exact', async () => {
    const { ready } = await start('listen', 'echo');
    const main = mainTransport();
    await main.bind({ id: 'main', host: 'main', port: 0 }, { listen: false });
    const peer = await main.connect(ready as NodeAddress);
    expect(peer).toBe('echo');

    const sent = encodeFrame(bigMessage());
    const expected = concatParts(sent).slice();
    expect(expected.byteLength).toBeGreaterThan(8 * 1024 * 1024);
    const reply = firstValueFrom(main.frames$.pipe(timeout(30_000)));
    await main.send('echo', sent);
    const { from, frame } = await reply;
    expect(from).toBe('echo');
    const back = frame as Uint8Array;
    expect(back.byteLength).toBe(expected.byteLength);
    expect(
      Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), Buffer.from(expected)),
    ).toBe(0);
    const msg = decodeFrame(back);
    expect(msg.meta.ts).toBe(42);
    expect((msg.data[0] as BigUint64Array)[1]).toBe(2n ** 63n + 5n);
  });

  it('answers a worker that only connected out over the link it opened', async () => {
    const main = mainTransport();
    const addr = await main.bind({ id: 'main', host: 'main', port: 0 });
    const connected = firstValueFrom(main.events$.pipe(timeout(10_000)));
    const { ready } = await start('dial', 'dialer', addr);
    expect(ready).toEqual({ id: 'dialer', peer: 'main' });
    expect(await connected).toEqual({ type: 'connected', peer: 'dialer' });

    const reply = firstValueFrom(main.frames$.pipe(timeout(10_000)));
    const small: Message = { ...bigMessage(), data: [new Float32Array([1, 2, 3])] };
    await main.send('dialer', encodeFrame(small));
    const { from, frame } = await reply;
    expect(from).toBe('dialer');
    expect(Array.from(decodeFrame(frame).data[0] as Float32Array)).toEqual([1, 2, 3]);
  });

  it('carries frames between two workers directly, and reports a terminated worker as disconnected', async () => {
    const listener = await start('listen', 'w-listen');
    const main = mainTransport();
    await main.bind({ id: 'main', host: 'main', port: 0 }, { listen: false });
    await main.connect(listener.ready as NodeAddress);
    // A second worker dials the first one (the hub only matches them up).
    const dialer = await start('dial', 'w-dial', listener.ready as NodeAddress);
    expect(dialer.ready).toEqual({ id: 'w-dial', peer: 'w-listen' });

    const lost = firstValueFrom(main.events$.pipe(timeout(10_000)));
    await listener.worker.terminate();
    expect(await lost).toEqual({ type: 'disconnected', peer: 'w-listen' });
  });

  it('lets a worker exit by itself once its transport is closed', async () => {
    const main = mainTransport();
    const addr = await main.bind({ id: 'main', host: 'main', port: 0 });
    const { worker } = await start('once', 'once', addr);
    const exited = once(worker, 'exit');
    const reply = firstValueFrom(main.frames$.pipe(timeout(10_000)));
    await main.send('once', encodeFrame({ ...bigMessage(), data: [] }));
    expect((await reply).from).toBe('once');
    const gone = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(gone).toEqual([0]);
  });
});
