import { InvalidArgumentError } from 'commander';

// The commander value parsers shared by `pskv` and its subcommands (`cli.ts`, `nn/nn-command.ts`,
// `lda/lda-command.ts`, `k8s/k8s-command.ts`): each turns an option's text into a number or fails the parse with
// commander's InvalidArgumentError (exit status 2 with the option named).

/** Parses an option's value as an integer (`Number(v)`); not an integer throws InvalidArgumentError. */
export const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
};

/** Parses an option's value as a finite number (`Number(v)`); otherwise throws InvalidArgumentError. */
export const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
};
