import type { ChildProcess } from 'node:child_process';
import { type MessagePort, Worker } from 'node:worker_threads';
import {
  createServer,
  createWorker,
  type KVWorker,
  type PsNode,
  Scheduler,
  sumHandler,
  type Transport,
} from '@ps/core';
import { selfSignedCertificate } from '@ps/core/testing';
import { InprocHub, inproc, ThreadHub, threads } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';
import { startPeer, stopPeer } from './ceilings.js';

/**
 * The transports the benchmark compares, each with a node's defaults (key-list reuse on for all
 * but `inproc`). `tcp-tls` is TCP over `node:tls` with a cluster secret (a self-signed P-256
 * certificate made for the run by `openssl`): what security costs. `tcp-no-reuse` is TCP with
 * `keyListReuse: false`: every request carries its keys, as in ps-lite.
 */
export type BenchTransport = 'inproc' | 'threads' | 'tcp' | 'tcp-no-reuse' | 'ws' | 'tcp-tls';

/** Every transport the benchmark knows, in the order of a full run. */
export const BENCH_TRANSPORTS: readonly BenchTransport[] = [
  'inproc',
  'threads',
  'tcp',
  'tcp-no-reuse',
  'ws',
  'tcp-tls',
];

/** Whether a transport's traffic crosses the loopback wire (and so has a wire ceiling). */
export const crossesWire = (kind: string): boolean =>
  kind === 'tcp' || kind === 'tcp-no-reuse' || kind === 'ws' || kind === 'tcp-tls';

/** The secret of the `tcp-tls` rows: a fixed test value, never a real one. */
const BENCH_SECRET = 'bench-secret-not-for-real-clusters';

/** A 1-server, 1-worker cluster for one transport, with the worker in this thread. */
export interface BenchCluster {
  transport: BenchTransport;
  node: PsNode;
  worker: KVWorker;
  close(): Promise<void>;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The handler of the in-process and thread servers: the sum rule over a dense range that holds
 * every key the rows use (0 to 2^21 - 1), so the table indexes by key and hashes nothing, as a
 * server of hashed features would (`denseRange`); float32 runs are added with WebAssembly SIMD.
 */
const inProcessHandler = () => sumHandler({ denseRange: { count: 1 << 21 } });

/**
 * Opens the cluster a benchmark row runs on: a scheduler and the worker in this thread, and one
 * server with the sum handler (it really stores: a push adds into its table, a pull copies out):
 * in this thread (`inproc`), in a worker thread (`threads`), or in a child process (`tcp`, `ws`).
 */
export async function openBenchCluster(kind: BenchTransport, script: string): Promise<BenchCluster> {
  let make: () => Transport;
  let cleanup: () => Promise<void> = async () => {};
  let serverThread: Worker | undefined;
  let serverProcess: ChildProcess | undefined;
  let threadHub: ThreadHub | undefined;
  let tlsEnv: Record<string, string> = {};
  if (kind === 'inproc') {
    const hub = new InprocHub();
    make = () => inproc({ hub });
  } else if (kind === 'threads') {
    threadHub = new ThreadHub();
    const hub = threadHub;
    make = () => threads({ port: hub.connectPort() });
  } else if (kind === 'ws') make = () => ws();
  else if (kind === 'tcp-tls') {
    const pem = await selfSignedCertificate();
    tlsEnv = { BENCH_TLS_CERT: pem.cert, BENCH_TLS_KEY: pem.key };
    make = () => tcp({ secret: BENCH_SECRET, tls: { ...pem, ca: pem.cert } });
  } else make = () => tcp();
  const reuse = kind === 'tcp-no-reuse' ? { keyListReuse: false } : {};
  const scheduler = await Scheduler.start({ transport: make(), numServers: 1, numWorkers: 1, logger: quiet });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  let serverNode: PsNode | undefined;
  let serverStart: Promise<unknown> = Promise.resolve();
  if (kind === 'inproc') {
    // Started beside the worker below: start() resolves only once the whole cluster registered.
    serverStart = createServer({
      transport: make(),
      scheduler: at,
      logger: quiet,
      handler: inProcessHandler(),
    }).then((s) => {
      serverNode = s.node;
    });
  } else if (kind === 'threads') {
    const port = threadHub!.connectPort();
    serverThread = new Worker(script, {
      workerData: { benchRole: 'thread-server', port, scheduler: at },
      transferList: [port],
    });
  } else {
    serverProcess = (
      await startPeer(script, 'server', {
        PS_SCHEDULER: `${at.host}:${at.port}`,
        BENCH_TRANSPORT: kind,
        ...tlsEnv,
      })
    ).child;
  }
  const [{ node, worker }] = await Promise.all([
    createWorker({ transport: make(), scheduler: at, logger: quiet, ...reuse }),
    serverStart,
  ]);
  cleanup = async () => {
    await node.finalize();
    await scheduler.terminated;
    if (serverNode) await serverNode.terminated;
    if (serverThread) await serverThread.terminate();
    if (serverProcess) await stopPeer(serverProcess);
    threadHub?.close();
  };
  return { transport: kind, node, worker, close: cleanup };
}

/** The body of the `threads` server: runs inside the worker thread. */
export async function runThreadServer(data: {
  port: MessagePort;
  scheduler: { host: string; port: number };
}): Promise<void> {
  const { node } = await createServer({
    transport: threads({ port: data.port }),
    scheduler: data.scheduler,
    logger: quiet,
    handler: inProcessHandler(),
  });
  await node.terminated;
}
