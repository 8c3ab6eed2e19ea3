import type { TableHandler } from '../handlers/table-handler.js';
import type { KVRequest, RequestHandler } from '../kv-server.js';
import type { Message } from '../wire/message.js';
import { ownedFrameOf } from '../wire/owned-frame.js';

/** What {@link releasablePushFrame} reads of the server's plan for a request (`Replication.plan`). */
interface PlanLike {
  /** Set for a resend partly applied before: the part to apply (a copy), or null. */
  apply?: unknown;
  /** Set for a resend: the earlier applications to wait for. */
  waits?: unknown;
}

/**
 * The pooled buffer of a push's frame (`ownedFrameOf`) that nothing reads once the push was
 * applied, or undefined. The ownership rule, all of it checked here but the forwards: a
 * first send (not a resend: those gather parts and wait on earlier applications), outside sync
 * mode (which sums the pushed values later), to the built-in table handler with a rule that keeps
 * no views (`UpdateRule.retainsNoViews`: it adds the values into its table), with the keys (and
 * lens) not in the frame (key-list reuse gave the held list: the receive window, the key-list
 * cache and the answer keep the keys). The caller must also see that the push was forwarded to
 * no other server (a forward sends views of the frame: {@link forwardsOf} unchanged), and
 * release only once the push was applied.
 */
export function releasablePushFrame(
  msg: Message,
  req: KVRequest,
  plan: PlanLike,
  handler: RequestHandler,
  syncActive: boolean,
): ArrayBuffer | undefined {
  if (!req.push || syncActive || plan.apply !== undefined || plan.waits !== undefined) return undefined;
  const frame = ownedFrameOf(msg);
  if (frame === undefined) return undefined;
  const h = handler as Partial<TableHandler>;
  if (h.table === undefined || h.rule?.retainsNoViews !== true) return undefined;
  const { keys, lens } = req.kv;
  if (keys.buffer === frame || lens?.buffer === frame) return undefined;
  return frame;
}

/** Forwards a server's replication sent so far, as master and as a middle link (`Replication.counters`). */
export function forwardsOf(r: { readonly counters: { forwarded: number; relayed: number } }): number {
  return r.counters.forwarded + r.counters.relayed;
}
