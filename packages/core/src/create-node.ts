import { KVServer, type KVServerOptions, type RequestHandler } from './kv-server.js';
import { KVWorker, type KVWorkerOptions } from './kv-worker.js';
import { type NodeOptions, PsNode } from './ps-node.js';

/** Options of {@link createServer}: a node's options plus the handler of each app id. */
export interface CreateServerOptions extends Omit<NodeOptions, 'role'> {
  /** The handler of app 0, or a map from app id to handler for several tables. */
  handler: RequestHandler | Record<number, RequestHandler>;
  /**
   * Runs after the servers are attached and before the node registers (e.g. `restoreServer` from
   * `@ps/core/node`, to load snapshots before serving).
   */
  beforeStart?: (servers: KVServer[]) => Promise<void>;
  /** Delivery options of every KVServer (the per-worker window, forward resends). */
  delivery?: Pick<KVServerOptions, 'window' | 'resend'>;
}

/**
 * Starts a server node: binds, attaches a `KVServer` per app id, registers with the scheduler
 * and resolves once the cluster is complete. `await server.node.terminated` to serve until
 * the scheduler shuts the cluster down.
 */
export async function createServer(
  opts: CreateServerOptions,
): Promise<{ node: PsNode; servers: KVServer[] }> {
  const node = await PsNode.create({ ...opts, role: 'server' });
  const handlers: Record<number, RequestHandler> =
    typeof opts.handler === 'function' ? { 0: opts.handler } : opts.handler;
  const servers = Object.entries(handlers).map(
    ([app, handler]) => new KVServer(node, { ...opts.delivery, app: Number(app), handler }),
  );
  try {
    await opts.beforeStart?.(servers);
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return { node, servers };
}

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions extends Omit<NodeOptions, 'role'> {
  /** App ids to open a KVWorker for. Default `[0]`. */
  apps?: number[];
  /** Delivery options of every KVWorker (request deadline, resend timing). */
  delivery?: Pick<KVWorkerOptions, 'requestTimeoutMs' | 'resend'>;
}

/**
 * Starts a worker node and resolves once the cluster is complete, with a `KVWorker` for the
 * first app id (`worker`) and one per app id (`workers`). Call `node.finalize()` when done.
 */
export async function createWorker(
  opts: CreateWorkerOptions,
): Promise<{ node: PsNode; worker: KVWorker; workers: KVWorker[] }> {
  const node = await PsNode.create({ ...opts, role: 'worker' });
  const workers = (opts.apps ?? [0]).map((app) => new KVWorker(node, { ...opts.delivery, app }));
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return { node, worker: workers[0]!, workers };
}
