import type { FrameChannel, FrameChannelLimits } from '@ps/core';
import type { InprocFrameTransport } from '../inproc-frame-transport.js';
import type { InprocChannel } from './inproc-channel.js';

/** What an {@link InprocHub} holds at an address: one `listen` of an `InprocFrameTransport`. */
export class InprocListener {
  open = true;
  /** Where it is registered (set right after the hub chose the port). */
  at: { host: string; port: number } | undefined;

  constructor(
    readonly owner: InprocFrameTransport,
    readonly limits: () => FrameChannelLimits,
    readonly accept: (channel: FrameChannel) => void,
  ) {}

  /** A dialer found this listener: the channel's ends are made by the listening transport. */
  connect(dialer: InprocFrameTransport, limits: FrameChannelLimits): InprocChannel {
    return this.owner.connectTo(this, dialer, limits);
  }

  /** Leaves the hub; channels already made stay. */
  close(): void {
    this.open = false;
    if (this.at) this.owner.hub.unlisten(this.at.host, this.at.port, this);
  }
}
