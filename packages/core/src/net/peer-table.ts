import { PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';
import type { LayerLink } from './layer-link.js';
import { displacedSchedulerImpostor, refuseSchedulerImpostor } from './scheduler-impostor.js';
import type { PeerAddress } from './transport.js';

/** A peer this node dialed: where it is, its open link (none while reconnecting), who waits. */
export interface DialedPeer {
  address: PeerAddress;
  link: LayerLink | undefined;
  /** Sends waiting for a reconnect. */
  waiters: { resolve: (l: LayerLink) => void; reject: (e: PsError) => void }[];
  reconnecting: boolean;
}

/**
 * The message layer's peers by node id: the links accepted (one per peer: a newer one replaces
 * the older) and the peers dialed (kept across reconnects). A send goes over the dialed link
 * first, else the accepted one, else waits for a reconnect in progress. The scheduler is the one
 * id checked beyond the handshake: once dialed, an accepted peer may not claim it.
 */
export class PeerTable {
  readonly accepted = new Map<NodeId, LayerLink>();
  readonly dialed = new Map<NodeId, DialedPeer>();

  /** The refusal for an accepted peer claiming `id` (the scheduler's, once dialed), if any. */
  admit(id: NodeId): PsError | undefined {
    return refuseSchedulerImpostor(id, this.dialed);
  }

  /** A dialed peer with an open link at `address`, if there is one. */
  dialedAt(address: PeerAddress): NodeId | undefined {
    for (const [id, d] of this.dialed) {
      if (d.address.host === address.host && d.address.port === address.port && d.link) return id;
    }
    return undefined;
  }

  /** Records an accepted link for `peer`, closing the one it replaces. */
  accept(peer: NodeId, link: LayerLink): void {
    const old = this.accepted.get(peer);
    // At once: frames still arriving on the older link must not be answered over this one.
    if (old && old !== link)
      old.drop(new PsError(PsErrorCode.PEER_UNREACHABLE, `${peer} connected again; older link closed`));
    this.accepted.set(peer, link);
  }

  /** Forgets an accepted link that ended; true when it was the peer's current one. */
  acceptedEnded(link: LayerLink): boolean {
    if (link.peer === undefined || this.accepted.get(link.peer) !== link) return false;
    this.accepted.delete(link.peer);
    return true;
  }

  /**
   * Closes an accepted link that claimed the id of the scheduler, which this node now dials;
   * returns the `PS_ERR_AUTH` error to report, if it did.
   */
  dropImpostor(id: NodeId): PsError | undefined {
    const err = displacedSchedulerImpostor(id);
    const a = this.accepted.get(id);
    if (!err || !a) return undefined;
    this.accepted.delete(id);
    a.drop(err);
    return err;
  }

  /**
   * The link to send to `peer` over, or a promise of it while a dialed peer reconnects.
   * @throws PsError `PS_ERR_UNKNOWN_PEER` when this node neither dialed nor accepted `peer`.
   */
  linkFor(peer: NodeId): LayerLink | Promise<LayerLink> {
    const d = this.dialed.get(peer);
    if (d?.link && !d.link.ended) return d.link;
    const a = this.accepted.get(peer);
    if (a && !a.ended) return a;
    if (d) return new Promise<LayerLink>((resolve, reject) => d.waiters.push({ resolve, reject }));
    throw new PsError(
      PsErrorCode.UNKNOWN_PEER,
      `no connection to ${peer}; connect() to it first or wait for it to connect`,
      { peer },
    );
  }

  /** Rejects every send waiting for a reconnect, and forgets every peer (the layer closed). */
  clear(err: PsError): void {
    for (const d of this.dialed.values()) for (const w of d.waiters.splice(0)) w.reject(err);
    this.accepted.clear();
    this.dialed.clear();
  }
}
