/**
 * `runLocalCluster` rejects with this when SIGINT or SIGTERM stopped the job: the cluster was
 * torn down first. A command line exits with 128 + the signal's number (SIGINT 130, SIGTERM 143).
 */
export class JobInterrupted extends Error {
  override readonly name = 'JobInterrupted';

  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}; the cluster was torn down`);
  }
}
