import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchKeys } from './batch-keys.js';

const k = (...xs: number[]) => BigUint64Array.from(xs.map(BigInt));
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchKeys (marbles; one frame is 1 ms of virtual time)', () => {
  it('cuts a batch intervalMs after its first key, merging repeats into one sorted list', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const updates = cold('a 1ms b 1ms c 10ms d 20ms |', {
        a: k(5, 1),
        b: k(3, 5),
        c: k(1),
        d: k(9, 7),
      });
      // a at 0 starts a 10 ms clock: a, b and c make one batch at 10 (1, 3, 5 once each);
      // d at 15 starts the next clock, cut at 25; the source completes at 36 with nothing held.
      expectObservable(updates.pipe(batchKeys({ maxKeys: 100, intervalMs: 10 }))).toBe(
        '10ms x 14ms y 10ms |',
        { x: k(1, 3, 5), y: k(7, 9) },
      );
    });
  });

  it('cuts at once when maxKeys keys are held, before the interval ends', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const updates = cold('a b c 20ms d |', { a: k(1, 2), b: k(3), c: k(4, 5, 6), d: k(8) });
      // a + b = 3 keys, under 4; c brings 6 at frame 2: cut now, in batches of at most 4 keys.
      // d at 23 starts a clock of 50 ms, but the source completes at 24: d is emitted with it.
      // (A group takes as many frames as it has characters: (xy) is frames 2 to 5.)
      expectObservable(updates.pipe(batchKeys({ maxKeys: 4, intervalMs: 50 }))).toBe('--(xy) 18ms (z|)', {
        x: k(1, 2, 3, 4),
        y: k(5, 6),
        z: k(8),
      });
    });
  });

  it('counts repeats toward maxKeys and then merges them: a full batch may hold fewer keys', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const updates = cold('a b |', { a: k(1, 2), b: k(2, 1) });
      expectObservable(updates.pipe(batchKeys({ maxKeys: 4, intervalMs: 50 }))).toBe('-x|', { x: k(1, 2) });
    });
  });

  it('emits nothing for empty updates and nothing while no key is held', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // b at 31 starts a 3 ms clock: cut at 34; the source completes at 37.
      const updates = cold('a 30ms b 5ms |', { a: k(), b: k(4) });
      expectObservable(updates.pipe(batchKeys({ maxKeys: 10, intervalMs: 3 }))).toBe('34ms x 2ms |', {
        x: k(4),
      });
    });
  });

  it('stops its clock when unsubscribed and passes errors on', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const updates = cold('a 2ms #', { a: k(1) });
      expectObservable(updates.pipe(batchKeys({ maxKeys: 10, intervalMs: 10 }))).toBe('---#');
      const quiet = cold('a', { a: k(2) });
      expectObservable(quiet.pipe(batchKeys({ maxKeys: 10, intervalMs: 10 })), '^ 4ms !').toBe('');
      expectSubscriptions(quiet.subscriptions).toBe('^ 4ms !');
    });
  });
});
