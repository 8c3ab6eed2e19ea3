// The messages between the browser worker's page and its training Worker (train-worker.ts).
import type { BrowserWorkerState } from '../run-browser-worker.js';

/** Page to Worker, once: where the page is and what its address says. */
export interface TrainWorkerStart {
  type: 'start';
  /** The page's address (`location.href`), query included: the job and the scheduler. */
  href: string;
  /** The cluster secret from the address's fragment, if any. */
  secret?: string;
}

/**
 * Page to Worker, when the page goes (`pagehide`: the tab is closed, or navigates away): close
 * the node's connections and stop. The page terminates the Worker right after, which closes them
 * too if the Worker has not read this yet.
 */
export interface TrainWorkerLeave {
  type: 'leave';
}

/** What the page posts to its training Worker. */
export type TrainWorkerCommand = TrainWorkerStart | TrainWorkerLeave;

/**
 * Worker to page: `ready` once its modules are loaded and it listens (the page sends `start`
 * only then: Chromium hands a module Worker that awaits at top level, as the wasm filters do,
 * the messages that arrive before its listener exists to nobody), then its latest state (a
 * copy) on every change of status and report, or an error that stopped it before it ran.
 */
export type TrainWorkerMessage =
  | { type: 'ready' }
  | { type: 'state'; state: BrowserWorkerState }
  | { type: 'error'; error: string };
