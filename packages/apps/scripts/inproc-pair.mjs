// One scheduler, one server and one worker in this thread over @ps/transport-inproc, for the
// in-process scripts beside this file. `end()` finalizes the worker and waits for the cluster to
// stop.
import { createServer, createWorker, Scheduler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** @param handler the server's handler (for example `sumHandler({ denseRange: ... })`). */
export async function startInprocPair(handler) {
  // Node timers are unref'd; this keeps the process alive while a server holds requests.
  const keepAlive = setInterval(() => {}, 1000);
  const hub = new InprocHub();
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    numServers: 1,
    numWorkers: 1,
    logger: quiet,
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const [server, { node, worker }] = await Promise.all([
    createServer({ transport: inproc({ hub }), scheduler: at, logger: quiet, handler }),
    createWorker({ transport: inproc({ hub }), scheduler: at, logger: quiet }),
  ]);
  const end = async () => {
    await node.finalize();
    await scheduler.terminated;
    await server.node.terminated;
    clearInterval(keepAlive);
  };
  return { node, worker, end };
}
