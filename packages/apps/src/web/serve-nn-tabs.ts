import type { PeerAddress } from '@ps/core';
import type { NnConfig } from '../nn/nn-config.js';
import { nnWorkerQuery } from './nn-worker-query.js';
import { startWebServer, type WebServer } from './web-server.js';

/** What {@link serveNnTabs} gives `pskv nn`: where to say the tabs go, and the server's stop. */
export interface NnTabs {
  /** Prints the page's address for the tabs once the scheduler listens at `at`. */
  onScheduler(at: PeerAddress): void;
  close(): Promise<void>;
}

/**
 * For a `pskv nn` job with browser workers: serves the browser worker page at `webUrl` (port 0:
 * any free port) and, once the scheduler listens, writes the address to open in
 * `cfg.browserWorkers` tabs (`browser workers: open <url> in N tab(s)`) with `log`.
 * @throws PsError `PS_ERR_BIND` when the address cannot be listened on, `PS_ERR_CONFIG` when the
 *   page is not built.
 */
export async function serveNnTabs(
  cfg: NnConfig,
  webUrl: string,
  log: (line: string) => void,
): Promise<NnTabs> {
  const at = new URL(webUrl);
  const web: WebServer = await startWebServer({
    host: at.hostname.replace(/^\[|\]$/g, ''),
    port: Number(at.port || 80),
  });
  return {
    onScheduler: (scheduler) => {
      const page = new URL(`?${nnWorkerQuery(scheduler, cfg)}`, web.url);
      const n = cfg.browserWorkers;
      log(`browser workers: open ${page} in ${n} tab${n > 1 ? 's' : ''} (served by: this command)`);
    },
    close: () => web.close(),
  };
}
