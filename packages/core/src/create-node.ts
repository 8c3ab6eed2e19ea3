import { KVServer, type KVServerOptions, type RequestHandler } from './kv-server.js';
import { KVWorker, type KVWorkerOptions } from './kv-worker.js';
import { type NodeOptions, PsNode } from './ps-node.js';
import type { ValArray, ValArrayOf, ValDtype } from './wire/kv-pairs.js';

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
  /**
   * Sync mode (aggregation on servers, see {@link KVServerOptions.sync}) of every app, or per app
   * id (`{ 1: false }`: app 1 applies pushes on arrival in a sync cluster). Default: every app as
   * the cluster's view says (`Scheduler.start({ sync: true })`).
   */
  sync?: KVServerOptions['sync'] | Record<number, KVServerOptions['sync']>;
}

/** What {@link createServer} resolves to; the same shape as {@link CreatedWorker}. */
export interface CreatedServer {
  node: PsNode;
  /** The `KVServer` of the lowest app id (app 0 for a single `handler`). */
  server: KVServer;
  /** One `KVServer` per app id, in increasing app id order. */
  servers: KVServer[];
}

/**
 * Starts a server node: binds, attaches a `KVServer` per app id, registers with the scheduler
 * and resolves once the cluster is complete. `await node.terminated` to serve until the
 * scheduler shuts the cluster down.
 *
 * It resolves only when every server and worker has registered: start every role before
 * awaiting any (`Promise.all([createServer(...), createWorker(...)])` in one process).
 * @throws PsError `PS_ERR_TIMEOUT` when the cluster does not fill within `startTimeoutMs` (the
 *   message names the roles still missing), and those of `PsNode.create` and `PsNode.start`.
 */
export async function createServer(opts: CreateServerOptions): Promise<CreatedServer> {
  const node = await PsNode.create({ ...opts, role: 'server' });
  const handlers: Record<number, RequestHandler> =
    typeof opts.handler === 'function' ? { 0: opts.handler } : opts.handler;
  const servers = Object.entries(handlers).map(
    ([app, handler]) =>
      new KVServer(node, {
        ...opts.delivery,
        app: Number(app),
        handler,
        ...syncOf(opts.sync, Number(app)),
      }),
  );
  try {
    await opts.beforeStart?.(servers);
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return { node, server: servers[0]!, servers };
}

/** The `sync` option of app `app` from {@link CreateServerOptions.sync}. */
function syncOf(sync: CreateServerOptions['sync'], app: number): Pick<KVServerOptions, 'sync'> {
  if (sync === undefined) return {};
  if (typeof sync === 'boolean' || 'maxOpenIterations' in sync)
    return { sync: sync as KVServerOptions['sync'] };
  const own = (sync as Record<number, KVServerOptions['sync']>)[app];
  return own === undefined ? {} : { sync: own };
}

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions<D extends ValDtype | undefined = undefined>
  extends Omit<NodeOptions, 'role'> {
  /** App ids to open a KVWorker for. Default `[0]`. */
  apps?: number[];
  /**
   * The dtype of the tables' values, as the servers' handler holds them (`tableHandler`'s
   * `dtype`, `float32` by default). It types pulled values: with `'float32'`, `vals` of a pull
   * is a `Float32Array`. A declaration for the type checker: the handler decides what is sent.
   * Default: unset (`Float32Array | Float64Array`).
   */
  dtype?: D;
  /** Delivery options of every KVWorker (request deadline, resend timing). */
  delivery?: Pick<KVWorkerOptions, 'requestTimeoutMs' | 'resend'>;
}

/** What {@link createWorker} resolves to; the same shape as {@link CreatedServer}. */
export interface CreatedWorker<V extends ValArray = ValArray> {
  node: PsNode;
  /** The `KVWorker` of the first app id of `apps` (app 0 by default). */
  worker: KVWorker<V>;
  /** One `KVWorker` per app id of `apps`, in that order. */
  workers: KVWorker<V>[];
}

/**
 * Starts a worker node and resolves once the cluster is complete, with a `KVWorker` for the
 * first app id (`worker`) and one per app id (`workers`). Call `node.finalize()` when done.
 *
 * It resolves only when every server and worker has registered: start every role before
 * awaiting any (`Promise.all([createServer(...), createWorker(...)])` in one process).
 * @throws PsError `PS_ERR_TIMEOUT` when the cluster does not fill within `startTimeoutMs` (the
 *   message names the roles still missing), and those of `PsNode.create` and `PsNode.start`.
 */
export async function createWorker<D extends ValDtype | undefined = undefined>(
  opts: CreateWorkerOptions<D>,
): Promise<CreatedWorker<ValArrayOf<D>>> {
  const node = await PsNode.create({ ...opts, role: 'worker' });
  const workers = (opts.apps ?? [0]).map(
    (app) => new KVWorker<ValArrayOf<D>>(node, { ...opts.delivery, app }),
  );
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return { node, worker: workers[0]!, workers };
}
