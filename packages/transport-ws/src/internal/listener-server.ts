import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { PsError, PsErrorCode } from '@ps/core';
import type { WsTlsOptions } from '../ws-tls-options.js';

/** A TLS record holding a fatal handshake_failure alert: what a plain listener answers a TLS dialer. */
const TLS_HANDSHAKE_FAILURE_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);

/** What {@link listenerServer} needs of its medium. */
export interface ListenerServerOptions {
  tls: WsTlsOptions | undefined;
  /** How long a connection has for TLS and the upgrade, in ms (the HTTP header and request timeouts). */
  upgradeTimeoutMs: number;
  /** Called with every accepted TCP connection, before TLS. */
  admit: (raw: Socket) => void;
  /** Reports a connection refused before its upgrade. */
  refuse: (e: PsError) => void;
}

/**
 * The HTTP(S) server under the WebSocket server: plain requests get `426 Upgrade Required`, bad
 * HTTP a 400 (a TLS hello on a plain port a fatal TLS alert, so the dialer fails at once), failed
 * TLS handshakes are reported, and every TCP connection goes to `admit` first.
 * @throws PsError `PS_ERR_CONFIG` when `tls` lacks `cert` or `key`, or they do not load.
 */
export function listenerServer({ tls, upgradeTimeoutMs, admit, refuse }: ListenerServerOptions): Server {
  const answer426 = (_req: unknown, res: ServerResponse) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('this is a @ps WebSocket endpoint; connect with a WebSocket client\n');
  };
  const timeouts = { headersTimeout: upgradeTimeoutMs, requestTimeout: upgradeTimeoutMs };
  const o = tls;
  let http: Server;
  if (o) {
    if (o.cert === undefined || o.key === undefined) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'a TLS WebSocket transport that listens needs tls.cert and tls.key (PEM); a worker that only dials needs neither',
      );
    }
    try {
      http = createHttpsServer(
        {
          ...timeouts,
          cert: o.cert,
          key: o.key,
          ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
          ...(o.ca !== undefined ? { ca: o.ca } : {}),
          requestCert: o.requestCert ?? false,
          rejectUnauthorized: o.requestCert ? (o.rejectUnauthorized ?? true) : false,
          handshakeTimeout: upgradeTimeoutMs,
        },
        answer426,
      ) as unknown as Server;
    } catch (err) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `cannot load the TLS certificate or key: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    http.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => {
      socket.destroy(); // with a listener for this event, closing the socket is ours to do
      if (err.code === 'ECONNRESET') return;
      const where = `${socket.remoteAddress}:${socket.remotePort}`;
      const timeout = /timeout/i.test(err.message);
      refuse(
        new PsError(
          timeout ? PsErrorCode.HANDSHAKE : PsErrorCode.AUTH,
          timeout
            ? `connection from ${where} did not complete its TLS handshake within ${upgradeTimeoutMs} ms; closed`
            : `TLS handshake with ${where} failed (${err.message}); a plain or untrusted peer? closed`,
        ),
      );
    });
  } else {
    http = createHttpServer(timeouts, answer426);
  }
  http.prependListener('connection', (raw: Socket) => admit(raw));
  http.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
    // TLS failures were reported by 'tlsClientError' already.
    const tlsFailure = err.code?.startsWith('ERR_SSL_') === true;
    const tlsHello = !o && err.rawPacket !== undefined && err.rawPacket[0] === 0x16;
    if (err.code !== 'ECONNRESET' && !tlsFailure) {
      const where = `${socket.remoteAddress}:${socket.remotePort}`;
      refuse(
        new PsError(
          PsErrorCode.HANDSHAKE,
          tlsHello
            ? `connection from ${where} speaks TLS (wss) and this endpoint does not; give every node the same tls options; closed`
            : `connection from ${where} sent bad HTTP (${err.code ?? err.message}); closed`,
        ),
      );
    }
    if (socket.writable && !tlsFailure) {
      // A TLS dialer gets a fatal alert, so it fails at once instead of retrying.
      socket.end(
        tlsHello ? TLS_HANDSHAKE_FAILURE_ALERT : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n',
      );
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  });
  return http;
}
