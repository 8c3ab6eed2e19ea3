/**
 * The Node.js-only part of @ps/core (it imports `node:fs`): atomic snapshot files. Import from
 * `@ps/core/node`; everything else is in `@ps/core`, which stays importable in a browser.
 */

export { type RestoreOptions, restoreServer, snapshotServer } from './store/server-snapshot.js';
export { readSnapshot, readSnapshotMeta, writeSnapshot } from './store/snapshot-file.js';
