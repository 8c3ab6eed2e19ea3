import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';
import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import { int } from '../cli-values.js';
import { type K8sObject, k8sManifests } from './k8s-manifests.js';

/** The options of `pskv k8s` itself; every other one set on the command line goes to `pskv start`. */
const OWN = new Set([
  'image',
  'name',
  'flavor',
  'namespace',
  'port',
  'maxRestarts',
  'secretName',
  'out',
  'servers',
  'workers',
]);

/** The manifests as one YAML stream (documents separated by `---`). */
export function manifestsYaml(objects: readonly K8sObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/**
 * Registers `pskv k8s` on `program`: writes the manifests of a job on Kubernetes (see
 * `k8sManifests`) as YAML on stdout, or into `--out DIR` (`service.yaml`, and `jobset.yaml` or
 * `job.yaml`). `jobOptions` adds the job's options (those of `pskv slr` and `pskv start`): the
 * ones given are passed to every pod's `pskv start`.
 */
export function registerK8sCommand(program: Command, jobOptions: (cmd: Command) => Command): void {
  const cmd = jobOptions(
    program
      .command('k8s')
      .description(
        "write a job's Kubernetes manifests (YAML on stdout): a JobSet with scheduler, server and worker replicated jobs (the scheduler first, the whole set restarted on a transient failure) and a headless Service; --flavor indexed-job for one Indexed Job without JobSet. The job's options given here are passed to each pod's `pskv start`",
      )
      .requiredOption(
        '--image <image>',
        'the container image (docker build -t IMAGE . with the Dockerfile at the repository root)',
      )
      .option('--name <name>', "the job's name: the JobSet's (or Job's) and the Service's", 'pskv')
      .addOption(
        new Option(
          '--flavor <kind>',
          'jobset (needs the JobSet controller) or indexed-job (plain Kubernetes)',
        )
          .choices(['jobset', 'indexed-job'])
          .default('jobset'),
      )
      .option('--namespace <ns>', "the namespace of every object (default: kubectl's)")
      .option('--port <n>', "the scheduler's port (default 9700)", int)
      .option(
        '--max-restarts <n>',
        'restarts of the whole JobSet after a transient failure, exit 75 (default 3)',
        int,
      )
      .option(
        '--secret-name <name>',
        'a Secret whose key `secret` is the cluster secret (PS_SECRET of every pod)',
      )
      .option('--out <dir>', 'write the manifests into this directory instead of stdout'),
  );
  cmd.action((o: Record<string, unknown>) => {
    try {
      writeManifests(o, cmd);
    } catch (err) {
      // Bad options are bad usage: status 2, with the hint to this command's --help.
      if (err instanceof PsError && err.code === PsErrorCode.CONFIG)
        cmd.error(`error: ${err.message}`, { exitCode: 2 });
      throw err;
    }
  });
}

/** Writes the manifests the options ask for, on stdout or into `--out`. */
function writeManifests(o: Record<string, unknown>, cmd: Command): void {
  if (o.transport === 'inproc') {
    throw new PsError(
      PsErrorCode.CONFIG,
      '--transport inproc runs every role in one process: on Kubernetes use tcp or ws',
    );
  }
  const objects = k8sManifests({
    name: o.name as string,
    image: o.image as string,
    servers: (o.servers as number | undefined) ?? 2,
    workers: (o.workers as number | undefined) ?? 2,
    flavor: o.flavor as 'jobset' | 'indexed-job',
    args: passedOn(cmd, o),
    ...(o.port !== undefined ? { port: o.port as number } : {}),
    ...(o.namespace !== undefined ? { namespace: o.namespace as string } : {}),
    ...(o.maxRestarts !== undefined ? { maxRestarts: o.maxRestarts as number } : {}),
    ...(o.secretName !== undefined ? { secretName: o.secretName as string } : {}),
  });
  if (o.out === undefined) {
    process.stdout.write(manifestsYaml(objects));
    return;
  }
  const dir = o.out as string;
  mkdirSync(dir, { recursive: true });
  for (const obj of objects) {
    const file = join(dir, `${obj.kind.toLowerCase()}.yaml`);
    writeFileSync(file, manifestsYaml([obj]));
    process.stderr.write(`wrote ${file}\n`);
  }
}

/** The job's options given on the command line, as `pskv start` arguments. */
function passedOn(cmd: Command, o: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (OWN.has(key) || cmd.getOptionValueSource(key) !== 'cli') continue;
    const v = o[key];
    if (opt.negate) {
      if (v === false) args.push(opt.long!);
    } else if (!opt.required && !opt.optional) {
      if (v === true) args.push(opt.long!);
    } else args.push(opt.long!, String(v));
  }
  return args;
}
