import { afterEach } from 'vitest';

/** A logger that prints nothing, for the nodes a test starts. */
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The cleanups of the calling test file: push a closer (a scheduler's shutdown, a node's close)
 * as each part starts; after each test every closer runs, all at once, their errors ignored.
 */
export function closeAfterEach(): (() => Promise<unknown>)[] {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
  });
  return closers;
}
