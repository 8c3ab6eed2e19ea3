// `require('@ps/apps')` lands here: @ps/apps is ESM-only (its command line and jobs use
// import.meta and top-level await); @ps/core, the transports and @ps/filters ship CommonJS builds.
const { PsError, PsErrorCode } = require('@ps/core');

throw new PsError(
  PsErrorCode.CONFIG,
  "@ps/apps is ESM-only: load it with `await import('@ps/apps')`; require() works for @ps/core, @ps/transport-*, and @ps/filters",
);
