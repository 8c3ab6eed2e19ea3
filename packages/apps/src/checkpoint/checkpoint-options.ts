import { type Command, InvalidArgumentError } from 'commander';

/**
 * Adds `--checkpoint-dir DIR` and `--checkpoint-every SECONDS` to a job command (`slr`, `start`):
 * see docs/checkpoints.md.
 */
export function checkpointOptions(cmd: Command): Command {
  return cmd
    .option(
      '--checkpoint-dir <dir>',
      'periodic checkpoints go there, and a job started with a complete one there (not marked finished) resumes from the latest',
    )
    .option(
      '--checkpoint-every <seconds>',
      'take a consistent checkpoint every this many seconds of training (needs --checkpoint-dir; keeps the last 2)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0)
          throw new InvalidArgumentError('give a positive number of seconds, e.g. 30');
        return n;
      },
    );
}
