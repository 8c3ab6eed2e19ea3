import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { PsError, PsErrorCode } from '@ps/core';
import { AddressBook } from './internal/address-book.js';
import type { FromHub, ToHub } from './internal/thread-protocol.js';

/** One transport's connection to the hub. */
interface Client {
  port: MessagePort;
}

/**
 * The matchmaker of the `threads()` transport, living in the main thread. Each transport (in a
 * worker thread or in the main thread) gets its own port to the hub from {@link connectPort}.
 * The hub only keeps the address book (`host:port` to listener): when a transport connects, the
 * hub makes a fresh `MessageChannel` and hands one port to each side, so frames then flow
 * directly between the two threads, never through the hub. Links made stay up when the hub
 * closes; only new binds and connects need it.
 *
 * The hub never keeps the process alive by itself (its ports are unref'd). When a
 * worker exits or its transport closes, its addresses are released.
 *
 * ```ts
 * const hub = new ThreadHub();
 * const port = hub.connectPort();
 * new Worker(url, { workerData: { port }, transferList: [port] });
 * // in the worker: threads({ port: workerData.port })
 * ```
 */
export class ThreadHub {
  private readonly book = new AddressBook<Client>();
  private readonly clients = new Set<Client>();
  private closed = false;

  /**
   * Makes a new port to this hub for one transport. Hand it to `threads({ port })`, in this
   * thread or in a worker (`workerData` plus `transferList`). One port per transport.
   * @throws PsError `PS_ERR_CLOSED` after {@link close}.
   */
  connectPort(): MessagePort {
    if (this.closed) throw new PsError(PsErrorCode.CLOSED, 'the ThreadHub is closed');
    const { port1, port2 } = new MessageChannel();
    const client: Client = { port: port1 };
    this.clients.add(client);
    port1.on('message', (msg: ToHub) => this.onRequest(client, msg));
    port1.on('close', () => this.drop(client));
    port1.unref();
    return port2;
  }

  /** Addresses (`host:port`) listened on through this hub. */
  addresses(): string[] {
    return this.book.addresses();
  }

  private reply(client: Client, msg: FromHub, transfer: MessagePort[] = []): void {
    client.port.postMessage(msg, transfer);
  }

  private fail(client: Client, req: number, err: unknown): void {
    const e = err instanceof PsError ? err : new PsError(PsErrorCode.PROTOCOL, String(err));
    this.reply(client, { t: 'fail', req, ...e.toWire() });
  }

  private onRequest(client: Client, msg: ToHub): void {
    if (this.closed || !this.clients.has(client)) return;
    if (msg.t === 'bind') {
      try {
        const port = this.book.listen(msg.host, msg.port, client);
        this.reply(client, { t: 'bound', req: msg.req, port });
      } catch (err) {
        this.fail(client, msg.req, err);
      }
    } else if (msg.t === 'release') {
      this.book.unlistenAll(client);
      this.reply(client, { t: 'released', req: msg.req });
    } else if (msg.t === 'connect') {
      this.connect(client, msg);
    }
  }

  /** Links `client` to whoever listens at the address now (nobody: a refusal, at once). */
  private connect(client: Client, msg: Extract<ToHub, { t: 'connect' }>): void {
    const listener = this.book.lookup(msg.host, msg.port);
    if (!listener) {
      const at = AddressBook.key(msg.host, msg.port);
      this.fail(
        client,
        msg.req,
        new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `nothing listens on ${at} at this ThreadHub; is the peer started?`,
        ),
      );
      return;
    }
    const { port1, port2 } = new MessageChannel();
    this.reply(listener, { t: 'accept', link: port1, host: msg.host, port: msg.port }, [port1]);
    this.reply(client, { t: 'linked', req: msg.req, link: port2 }, [port2]);
  }

  /** Forgets a client whose port closed: its addresses are released. */
  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.book.unlistenAll(client);
  }

  /**
   * Closes every port to the hub (transports then fail new binds and connects; links already
   * made keep working) and forgets every address. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const clients = [...this.clients];
    this.clients.clear();
    for (const c of clients) c.port.close();
    this.book.clear();
  }
}
