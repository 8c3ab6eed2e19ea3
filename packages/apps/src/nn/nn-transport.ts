import type { Transport } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';
import type { NnConfig } from './nn-config.js';

/**
 * The transport of every Node role of a `pskv nn` job: TCP, or WebSocket when browser tabs join
 * (a browser speaks WebSocket only, and every role of a cluster listens on one transport).
 */
export function nnTransport(cfg: Pick<NnConfig, 'browserWorkers'>): Transport {
  return (cfg.browserWorkers ?? 0) > 0 ? ws() : tcp();
}
