import { PsError, PsErrorCode } from '@ps/core';

/** Highest port number an address book hands out or accepts (as for TCP). */
const MAX_PORT = 65_535;

/**
 * The registry both hubs share: which listener is at which `host:port`, and fresh port numbers
 * for `port: 0`. Hosts are compared as plain
 * strings (`localhost` and `127.0.0.1` are different addresses here).
 */
export class AddressBook<T> {
  private readonly entries = new Map<string, T>();
  private nextPort = 1;

  /** `host:port`, the key of an address. */
  static key(host: string, port: number): string {
    return `${host}:${port}`;
  }

  /**
   * @internal
   * Registers `value` at `host:port` (port 0: a fresh port number from 1 up). Returns the port.
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

  /** @internal Removes the entry at `host:port` if it is `value`; a no-op otherwise. */
  unlisten(host: string, port: number, value: T): void {
    const key = AddressBook.key(host, port);
    if (this.entries.get(key) === value) this.entries.delete(key);
  }

  /** @internal Removes every entry whose value is `value`. */
  unlistenAll(value: T): void {
    for (const [key, v] of this.entries) if (v === value) this.entries.delete(key);
  }

  /** @internal The listener at `host:port`, if any. */
  lookup(host: string, port: number): T | undefined {
    return this.entries.get(AddressBook.key(host, port));
  }

  /** Addresses (`host:port`) listened on, in registration order. */
  addresses(): string[] {
    return [...this.entries.keys()];
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.clear();
  }
}
