import { afterEach, describe, expect, it } from 'vitest';
import { ResendTable } from './resend-table.js';

const tables: ResendTable<string>[] = [];
afterEach(() => {
  for (const t of tables.splice(0)) t.close();
});

/** The two storages: a Map by key, and a TimestampTable by `idOf(key)` (here the letter's code). */
const STORAGES = [
  ['by key', undefined],
  ['by id', (k: string) => k.charCodeAt(0)],
] as const;

function table(idOf: ((k: string) => number) | undefined, intervalMs = 100, maxIntervalMs = 400) {
  const resent: [string, number][] = [];
  const expired: [string, number, string][] = [];
  const t = new ResendTable<string>(
    { intervalMs, maxIntervalMs },
    (k, a) => resent.push([k, a]),
    (k, w, p) => expired.push([k, w, p]),
    idOf,
  );
  tables.push(t);
  return { t, resent, expired };
}

describe.each(STORAGES)('ResendTable, entries %s', (_name, idOf) => {
  it('resends after the interval, doubling up to the maximum, until the deadline, then expires once', () => {
    const { t, resent, expired } = table(idOf);
    t.add('a', 'server-1', 1_000, 0);
    t.tick(99);
    expect(resent).toEqual([]);
    t.tick(100); // first resend; next after 200
    t.tick(299);
    t.tick(300); // second; next after 400 (capped)
    t.tick(700); // third; next after 400
    t.tick(1_099 - 0); // past the deadline: expired, not resent
    expect(resent).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', 3],
    ]);
    expect(expired).toEqual([['a', 1_099, 'server-1']]);
    expect(t.size).toBe(0);
    t.tick(5_000);
    expect(expired).toHaveLength(1);
  });

  it('resends every request to a peer at once when its connection is back, and forgets answered ones', () => {
    const { t, resent } = table(idOf);
    t.add('a', 'server-1', Number.POSITIVE_INFINITY, 0);
    t.add('b', 'server-2', Number.POSITIVE_INFINITY, 0);
    t.add('c', 'server-1', Number.POSITIVE_INFINITY, 0);
    t.delete('c');
    t.resendTo('server-1');
    expect(resent).toEqual([['a', 0]]);
    expect(t.has('b')).toBe(true);
    t.close();
    t.add('d', 'server-1', 10, 0);
    expect(t.size).toBe(0);
  });

  it('keeps the backoff and the earlier deadline when a request is sent again', () => {
    const { t, resent, expired } = table(idOf);
    t.add('a', 'server-1', 500, 0);
    t.tick(100);
    t.add('a', 'server-3', 10_000, 100); // resent elsewhere: same entry, earlier deadline kept
    t.tick(299);
    expect(resent).toEqual([['a', 1]]);
    t.tick(500);
    expect(expired).toEqual([['a', 500, 'server-3']]);
  });
});
