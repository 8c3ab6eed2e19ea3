import { PsError, PsErrorCode } from '@ps/core';

/** Highest port number an address book hands out or accepts (as for TCP). */
const MAX_PORT = 65_535;

interface Waiter {
  resolve: () => void;
  reject: (err: PsError) => void;
}

/**
 * The registry both hubs share: which listener is at which `host:port`, fresh port numbers
 * for `port: 0`, and waiting until someone listens at an address. Hosts are compared as plain
 * strings (`localhost` and `127.0.0.1` are different addresses here).
 */
export class AddressBook<T> {
  private readonly entries = new Map<string, T>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private nextPort = 1;

  /**
   * @param unrefTimers Let wait timers not keep the thread alive (the hub of worker threads
   *   only reacts to requests; the requester's own port keeps its thread alive).
   */
  constructor(private readonly unrefTimers = false) {}

  /** `host:port`, the key of an address. */
  static key(host: string, port: number): string {
    return `${host}:${port}`;
  }

  /**
   * Registers `value` at `host:port` (port 0: a fresh port number from 1 up) and wakes everyone
   * waiting for that address. Returns the port.
   * @throws PsError `PS_ERR_BIND` when the address is taken, the port is not an integer in
   *   0..65535, or every port of the host is taken.
   */
  listen(host: string, port: number, value: T): number {
    if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) {
      throw new PsError(
        PsErrorCode.BIND,
        `cannot listen on ${host}:${port}: the port must be an integer in 0..${MAX_PORT}`,
      );
    }
    const real = port === 0 ? this.freshPort(host) : port;
    const key = AddressBook.key(host, real);
    if (this.entries.has(key)) {
      throw new PsError(PsErrorCode.BIND, `cannot listen on ${key}: the address is in use in this hub`, {
        host,
        port: real,
      });
    }
    this.entries.set(key, value);
    const waiting = this.waiters.get(key);
    if (waiting) {
      this.waiters.delete(key);
      for (const w of waiting) w.resolve();
    }
    return real;
  }

  private freshPort(host: string): number {
    for (let i = 0; i < MAX_PORT; i++) {
      const port = this.nextPort;
      this.nextPort = port >= MAX_PORT ? 1 : port + 1;
      if (!this.entries.has(AddressBook.key(host, port))) return port;
    }
    throw new PsError(
      PsErrorCode.BIND,
      `cannot listen on ${host}:0: every port of ${host} is in use in this hub`,
    );
  }

  /** Removes the entry at `host:port` if it is `value`; a no-op otherwise. */
  unlisten(host: string, port: number, value: T): void {
    const key = AddressBook.key(host, port);
    if (this.entries.get(key) === value) this.entries.delete(key);
  }

  /** Removes every entry whose value is `value`. */
  unlistenAll(value: T): void {
    for (const [key, v] of this.entries) if (v === value) this.entries.delete(key);
  }

  /** The listener at `host:port`, if any. */
  lookup(host: string, port: number): T | undefined {
    return this.entries.get(AddressBook.key(host, port));
  }

  /** Addresses (`host:port`) listened on, in registration order. */
  addresses(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Resolves once something listens at `host:port` (at once if something already does).
   * @param timeoutMs How long to wait, in ms (0: only check now).
   * @param signal Aborting it rejects the wait with `PS_ERR_CLOSED`.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` when nothing listened there within `timeoutMs`,
   *   `PS_ERR_CLOSED` when `signal` aborted.
   */
  waitFor(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const key = AddressBook.key(host, port);
    if (signal?.aborted) return Promise.reject(new PsError(PsErrorCode.CLOSED, 'the transport is closed'));
    if (this.entries.has(key)) return Promise.resolve();
    const unreachable = () =>
      new PsError(
        PsErrorCode.PEER_UNREACHABLE,
        `nothing listens on ${key} (waited ${timeoutMs} ms); is the peer started, in the same hub?`,
        {
          host,
          port,
        },
      );
    if (timeoutMs <= 0) return Promise.reject(unreachable());
    return new Promise<void>((resolve, reject) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const s = this.waiters.get(key);
        s?.delete(waiter);
        if (s?.size === 0) this.waiters.delete(key);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const onAbort = () =>
        waiter.reject(new PsError(PsErrorCode.CLOSED, 'the transport was closed while connecting'));
      const timer = setTimeout(() => waiter.reject(unreachable()), timeoutMs);
      if (this.unrefTimers) timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  /** Rejects every wait with `err` and forgets every entry. */
  clear(err: PsError): void {
    this.entries.clear();
    const all = [...this.waiters.values()].flatMap((s) => [...s]);
    this.waiters.clear();
    for (const w of all) w.reject(err);
  }
}
