import type { Message } from '../wire/message.js';

/** Most data requests a server holds while its lease has lapsed; more are refused at once. */
export const MAX_HELD_REQUESTS = 4096;

/** Heartbeats remembered while unanswered (the scheduler may drop a few). */
const MAX_UNANSWERED = 64;

/**
 * A server's lease (see `ClusterView.leaseMs`): the scheduler never declares a node dead that it
 * heard from within the lease, so a server may serve for `leaseMs` after sending a heartbeat the
 * scheduler answered. Past it, the server holds data requests here until the next answer (or
 * until it learns it was declared dead, and refuses them).
 */
export class ServerLease {
  private seq = 0;
  private readonly sentAt = new Map<number, number>();
  /** When the latest answered heartbeat was sent: the lease runs from then. */
  private from = 0;
  private readonly held: Message[] = [];

  /** Starts the lease at registration (the scheduler counts the node from then). */
  start(now = Date.now()): void {
    this.from = now;
  }

  /** Numbers a heartbeat about to be sent, and remembers when. */
  beat(now = Date.now()): number {
    const seq = ++this.seq;
    this.sentAt.set(seq, now);
    if (this.sentAt.size > MAX_UNANSWERED) this.sentAt.delete(this.sentAt.keys().next().value!);
    return seq;
  }

  /** The scheduler answered heartbeat `seq`: renews the lease from when it was sent. */
  answered(seq: unknown): void {
    if (typeof seq !== 'number') return;
    const at = this.sentAt.get(seq);
    if (at === undefined) return;
    for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    this.from = Math.max(this.from, at);
  }

  /** True while the lease holds. */
  valid(leaseMs: number, now = Date.now()): boolean {
    return now - this.from < leaseMs;
  }

  /** How long ago the lease started (for messages), in ms. */
  age(now = Date.now()): number {
    return now - this.from;
  }

  /** Holds a request until the lease is back; false when {@link MAX_HELD_REQUESTS} are held. */
  hold(msg: Message): boolean {
    if (this.held.length >= MAX_HELD_REQUESTS) return false;
    this.held.push(msg);
    return true;
  }

  /** Takes every held request, in arrival order. */
  takeHeld(): Message[] {
    return this.held.splice(0);
  }
}
