/**
 * The Node.js-only part of @ps/core (it imports `node:fs`): atomic snapshot files. Import from
 * `@ps/core/node`; everything else is in `@ps/core`, which stays importable in a browser.
 */

export { restoreServer, snapshotServer } from './server-snapshot.js';
export { readSnapshot, writeSnapshot } from './snapshot-file.js';
