// Host names, not only IPs: a node may announce a name (a Kubernetes pod's, under a headless
// Service) and its peers resolve it at each dial, so at each reconnect: a peer recreated at a new
// address is found there.
import type { LookupFunction } from 'node:net';
import { encodeFrame } from '@ps/core';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { testMessage as msg, tcpTransports } from './tcp-transports.test-util.js';

/** A resolver from a table that the test changes, recording every name it was asked. */
function tableLookup(table: Map<string, string>, asked: string[]): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    asked.push(hostname);
    const address = table.get(hostname);
    if (address === undefined) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      process.nextTick(() => callback(err));
    } else if (options?.all) process.nextTick(() => callback(null, [{ address, family: 4 }]));
    else process.nextTick(() => callback(null, address, 4));
  }) as unknown as LookupFunction;
}

describe('TcpTransport and host names', () => {
  const make = tcpTransports();

  it('listens on and announces a host name (localhost), and its peer dials it by name', async () => {
    const a = make();
    const addr = await a.bind({ id: 'srv', host: 'localhost', port: 0 });
    expect(addr.host).toBe('localhost');
    const c = make();
    await c.bind({ id: 'cli', host: 'localhost', port: 0 }, { listen: false });
    expect(await c.connect({ host: 'localhost', port: addr.port })).toBe('srv');
    const got = firstValueFrom(a.frames$.pipe(take(1), timeout(10_000)));
    await c.send('srv', encodeFrame(msg(1)));
    expect((await got).from).toBe('cli');
  });

  it('resolves the name again at each reconnect: a peer recreated at another address is found there', async () => {
    const table = new Map([['srv.ps.test', '127.0.0.1']]);
    const asked: string[] = [];
    // The server binds an address of its own and announces the name (as a pod does).
    const a = make({ listenHost: '127.0.0.1' });
    const addr = await a.bind({ id: 'srv', host: 'srv.ps.test', port: 0 });
    expect(addr).toMatchObject({ host: 'srv.ps.test' });
    const c = make({ reconnectWindowMs: 10_000, lookup: tableLookup(table, asked) });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await c.connect(addr)).toBe('srv');
    expect(asked).toEqual(['srv.ps.test']);
    const lost = firstValueFrom(
      c.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(5000),
      ),
    );
    await a.close();
    await lost;
    // The "pod" comes back at a new address under the same name; nothing listens at the old one.
    table.set('srv.ps.test', '127.0.0.2');
    const b = make({ listenHost: '127.0.0.2' });
    await b.bind({ id: 'srv', host: 'srv.ps.test', port: addr.port });
    const got = firstValueFrom(b.frames$.pipe(take(1), timeout(10_000)));
    await c.send('srv', encodeFrame(msg(2)));
    const frame = await got;
    expect(frame.from).toBe('cli');
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((n) => n === 'srv.ps.test')).toBe(true);
  });

  it('keeps redialing a name that does not resolve yet (a pod whose DNS record is not published) until it does', async () => {
    const table = new Map<string, string>();
    const asked: string[] = [];
    const a = make({ listenHost: '127.0.0.1' });
    const addr = await a.bind({ id: 'srv', host: 'late.ps.test', port: 0 });
    const c = make({ reconnectWindowMs: 10_000, lookup: tableLookup(table, asked) });
    await c.bind({ id: 'cli', host: '127.0.0.1', port: 0 }, { listen: false });
    const connected = c.connect(addr);
    // Publish the record after the first failed lookups (bounded wait on the resolver's calls).
    for (let i = 0; i < 500 && asked.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(asked.length).toBeGreaterThanOrEqual(2);
    table.set('late.ps.test', '127.0.0.1');
    expect(await connected).toBe('srv');
  });
});
