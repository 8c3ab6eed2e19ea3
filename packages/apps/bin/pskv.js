#!/usr/bin/env node
// The `pskv` command: a committed shim, so that `npm ci` can link it before anything is built.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('pskv: @ps/apps is not built yet; run `npm run build` at the repository root first\n');
  process.exit(2);
}
await import(cli.href);
