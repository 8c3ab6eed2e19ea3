// A worker thread for the cross-thread frame tests: runs the built medium (../dist).
//
// workerData: { port: MessagePort to a ThreadHub }. Listens at `workers:0`, echoes every frame
// of every channel back on that channel, reports `{ ready: address }` to its parent once
// listening and `{ error: message }` if something fails. Exits by itself once its transport is
// closed, which it does when a channel sends the one-byte frame [0xff].
import { parentPort, workerData } from 'node:worker_threads';
import { InboundBudget } from '@ps/core';
import { ThreadFrameTransport } from '../dist/index.js';

const transport = new ThreadFrameTransport({ port: workerData.port });
const limits = () => ({ maxFrameBytes: 64 * 1024 * 1024, budget: new InboundBudget() });
const report = (err) => parentPort?.postMessage({ error: String(err) });

try {
  const ready = await transport.listen({ host: 'workers', port: 0 }, limits, (channel) => {
    channel.frames$.subscribe({
      next: (frame) => {
        if (frame.byteLength === 1 && frame[0] === 0xff) {
          void transport.close();
          return;
        }
        channel.send([frame]).catch(report);
      },
      error: () => undefined,
    });
  });
  parentPort?.postMessage({ ready });
} catch (err) {
  report(err);
}
