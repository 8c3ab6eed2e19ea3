import { PsError, PsErrorCode } from '../errors.js';
import type { Logger } from '../internal/logger.js';
import type { KVRequest, RequestHandler } from '../kv-server.js';
import type { ClusterView } from '../membership/cluster-view.js';
import type { Replication } from '../replication/replication.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import type { Message, NodeId } from '../wire/message.js';
import { SyncAggregator, type SyncOptions, type SyncPush } from './sync-aggregator.js';

/**
 * The sync mode of one KVServer: whether it is on (the server's `sync` option, else the view's),
 * and, when on, the {@link SyncAggregator} with its hooks: apply a sum once with the handler,
 * record the summed pushes in the delivery window, and replicate the sum once
 * (`Replication.forwardAggregate`). A server in sync mode in a cluster whose scheduler was not
 * told (`Scheduler.start({ sync: true })`) refuses pushes with `PS_ERR_SYNC`; `sync: false` in a
 * sync cluster opts an app out (it applies pushes on arrival).
 */
export class SyncMode {
  private aggregator: SyncAggregator | undefined;
  private mismatch: PsError | undefined;
  private warned = false;

  constructor(
    private readonly id: NodeId,
    private readonly app: number,
    private readonly handler: RequestHandler,
    private readonly replicas: Replication,
    private readonly log: Logger,
    private readonly option: boolean | SyncOptions | undefined,
  ) {}

  /** The aggregator, when sync mode is on (once a view arrived). */
  get active(): SyncAggregator | undefined {
    return this.aggregator;
  }

  /**
   * Why a push is refused before anything is applied: this server is in sync mode in a cluster
   * that is not, or the push names an iteration but this app is not in sync mode.
   */
  refusal(msg: Message): PsError | undefined {
    if (this.mismatch) return this.mismatch;
    if (msg.meta.iter !== undefined && !this.aggregator) {
      return new PsError(
        PsErrorCode.SYNC,
        `a push of iteration ${msg.meta.iter} reached app ${this.app}, which is not in sync mode; start the scheduler with Scheduler.start({ sync: true }), or push without an iteration`,
      );
    }
    return undefined;
  }

  onView(view: ClusterView): void {
    const cluster = view.sync === true;
    const mine = this.option === undefined ? cluster : this.option !== false;
    this.mismatch =
      mine && !cluster
        ? new PsError(
            PsErrorCode.SYNC,
            `server ${this.id} runs app ${this.app} in sync mode but the cluster does not; start the scheduler with Scheduler.start({ sync: true }) too`,
          )
        : undefined;
    if (this.mismatch && !this.warned) {
      this.warned = true;
      this.log.warn(this.mismatch.message);
    }
    if (mine && !this.aggregator) {
      const opts = typeof this.option === 'object' ? this.option : {};
      this.aggregator = new SyncAggregator({ apply: (sum, pushes) => this.apply(sum, pushes) }, opts);
    }
    this.aggregator?.onView(view);
  }

  /**
   * Checks a push for sync mode and adds it to its iteration.
   * @throws PsError `PS_ERR_SYNC` (no iteration, a pushPull, a mode mismatch, a width change),
   *   `PS_ERR_SYNC_BACKLOG` (too many open iterations).
   */
  push(msg: Message, req: KVRequest, kv: KVPairs, settle: (err?: PsError) => void): void {
    const agg = this.aggregator!;
    const iteration = msg.meta.iter;
    if (iteration === undefined) {
      throw new PsError(
        PsErrorCode.SYNC,
        `app ${this.app} runs in sync mode: tag every push with its iteration (push(kv, { iteration: t }))`,
      );
    }
    if (req.pull) {
      throw new PsError(
        PsErrorCode.SYNC,
        `app ${this.app} runs in sync mode: push with { iteration: t }, then pull with { iteration: t + 1 } instead of pushPull`,
      );
    }
    const push: SyncPush = {
      sender: req.sender,
      inc: msg.meta.inc ?? '',
      ts: req.ts,
      keys: kv.keys,
      settle,
      ...(msg.meta.resend ? { resend: true } : {}),
    };
    agg.push(iteration, kv, push);
  }

  /** Applies a sum once, records its pushes as applied here, and replicates it once. */
  private apply(sum: KVPairs, pushes: readonly SyncPush[]): Promise<PsError | undefined> {
    const req: KVRequest = {
      sender: this.id,
      app: this.app,
      ts: 0,
      push: true,
      pull: false,
      kv: sum,
      contributors: pushes.map((p) => [p.sender, p.inc, p.ts]),
    };
    const replicate = () => {
      const replicated = this.replicas.forwardAggregate(sum, pushes);
      for (const p of pushes) this.replicas.window.applied(p.sender, p.inc, p.ts, p.keys, replicated);
      return replicated;
    };
    try {
      const r = sum.keys.length > 0 ? this.handler(req) : undefined;
      if (r instanceof Promise) return r.then(replicate, (err: unknown) => handlerError(this.app, err));
      return replicate();
    } catch (err) {
      return Promise.resolve(handlerError(this.app, err));
    }
  }
}

function handlerError(app: number, err: unknown): PsError {
  return err instanceof PsError
    ? err
    : new PsError(
        PsErrorCode.HANDLER,
        `handler for app ${app} threw on an iteration's sum: ${(err as Error)?.message ?? String(err)}`,
      );
}
