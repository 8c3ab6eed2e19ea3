import { fileURLToPath } from 'node:url';
import { resolveSlrConfig, runLocalCluster } from '@ps/apps';

const summary = await runLocalCluster({
  cfg: resolveSlrConfig({ dataset: 'spam', transport: 'inproc', epochs: 2 }),
  // secret: '…', or secretFile: '/path' (the roles read it), to authenticate every connection
  roleScript: fileURLToPath(new URL('../node_modules/@ps/apps/dist/cli.js', import.meta.url)),
  onEvent: (e) => e.type === 'progress' && console.error(e.rank, e.rowsDone, e.loss.toFixed(3)),
});
console.log(summary.accuracy > 0.9 && summary.auc > 0.9); // true (spam is easy: accuracy about 0.98)
