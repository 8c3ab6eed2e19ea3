import { AddressBook } from './internal/address-book.js';
import type { InprocListener } from './internal/inproc-listener.js';

/**
 * The registry of in-process listeners of one thread: which transport ({@link InprocTransport} over
 * {@link InprocFrameTransport}) listens at which `host:port`. Transports that share a hub reach each other; transports of different hubs
 * never do, which isolates tests that run side by side. `port: 0` gets a fresh port number
 * (1 and up) from the hub. Hosts are compared as plain strings.
 *
 * Transports use {@link defaultInprocHub} unless given one (`inproc({ hub })`). A hub lives in
 * one thread (each worker thread has its own default hub); to cross threads use
 * {@link ThreadHub} and the `threads()` transport.
 *
 * Transports call the methods of the hub; applications only create it and pass it around.
 */
export class InprocHub extends AddressBook<InprocListener> {}

/** The hub every {@link InprocFrameTransport} of this thread uses unless given another one. */
export const defaultInprocHub: InprocHub = new InprocHub();
