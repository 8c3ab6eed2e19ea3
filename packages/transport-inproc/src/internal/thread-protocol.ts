import type { MessagePort } from 'node:worker_threads';
import type { PsErrorCode } from '@ps/core';

/**
 * The messages between a {@link ThreadFrameTransport} and its {@link ThreadHub} (over the hub port)
 * and between two linked transports (over the link port the hub handed each). Plain objects,
 * structured-cloned; frame bytes travel as a transferred `ArrayBuffer`.
 */

/** A transport asks its hub. `req` pairs the answer with the question. */
export type ToHub =
  /** Listen at `host:port` (0: a fresh port). Answered by `bound` or `fail`. */
  | { t: 'bind'; req: number; host: string; port: number }
  /** Link to whoever listens at `host:port` now. Answered by `linked` or `fail`. */
  | { t: 'connect'; req: number; host: string; port: number }
  /** Stop listening (the transport is closing). Answered by `released`. */
  | { t: 'release'; req: number };

/** The hub answers (or, with `accept`, tells a listener that someone linked to it). */
export type FromHub =
  | { t: 'bound'; req: number; port: number }
  | { t: 'released'; req: number }
  | { t: 'linked'; req: number; link: MessagePort }
  | { t: 'fail'; req: number; code: PsErrorCode; message: string }
  | { t: 'accept'; link: MessagePort; host: string; port: number };

/** What flows over a link port, both ways. */
export type OnLink =
  /** One frame, its parts copied into this one (transferred) buffer. */
  | { t: 'frame'; bytes: ArrayBuffer }
  /** The receiver consumed this many more frame bytes (flow control). */
  | { t: 'ack'; bytes: number }
  /** The sender closed cleanly: every frame it sent came before this; the port closes after it. */
  | { t: 'end' }
  /** The sender closed with a reason (or refused a frame); the port closes after it. */
  | { t: 'fail'; code: PsErrorCode; message: string };
