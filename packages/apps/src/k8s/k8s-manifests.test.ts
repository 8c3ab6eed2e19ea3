import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveClusterEnv } from '@ps/core/node';
import { Ajv } from 'ajv';
import { Job } from 'kubernetes-models/batch/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { JOBSET_V1ALPHA2_SCHEMA } from './jobset-schema.test-util.js';
import { manifestsYaml } from './k8s-command.js';
import { type K8sObject, k8sManifests } from './k8s-manifests.js';

const validateJobSet = new Ajv({ allErrors: true, strict: true }).compile(JOBSET_V1ALPHA2_SCHEMA);
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const root = fileURLToPath(new URL('../../../../', import.meta.url));

type Container = {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
};
type PodTemplate = {
  metadata: { labels: Record<string, string> };
  spec: { subdomain?: string; containers: Container[] };
};
type JobSpec = { completions: number; template: PodTemplate };

/** Checks a batch/v1 Job (or a JobSet's replicated job's template) against Kubernetes' schema. */
function validJob(name: string, spec: unknown): void {
  new Job({ metadata: { name }, spec: spec as never }).validate();
}

/**
 * The environment Kubernetes gives a pod's container: its `env`, with labels resolved through the
 * downward API, and `JOB_COMPLETION_INDEX` (an Indexed Job's pod).
 */
function podEnv(container: Container, labels: Record<string, string>, index: number): Record<string, string> {
  const env: Record<string, string> = { JOB_COMPLETION_INDEX: String(index) };
  for (const v of container.env) {
    const path = v.valueFrom?.fieldRef?.fieldPath;
    const label = path ? /^metadata\.labels\['(.+)'\]$/.exec(path)?.[1] : undefined;
    if (v.value !== undefined) env[v.name] = v.value;
    else if (label !== undefined) {
      expect(labels[label], `label ${label}`).toBeDefined();
      env[v.name] = labels[label]!;
    }
  }
  return env;
}

describe('k8sManifests: a JobSet and a headless Service', () => {
  const objects = k8sManifests({
    name: 'slr',
    image: 'registry.example/pskv:1',
    servers: 2,
    workers: 3,
    flavor: 'jobset',
    args: ['--dataset', 'imdb'],
  });
  const [service, set] = objects as [K8sObject, K8sObject];

  it('validates against the Kubernetes schemas (Service, each replicated job as a batch/v1 Job) and the JobSet API', () => {
    expect(objects.map((o) => o.kind)).toEqual(['Service', 'JobSet']);
    new Service(service as never).validate();
    expect(validateJobSet(set), JSON.stringify(validateJobSet.errors)).toBe(true);
    const rjobs = (set.spec as { replicatedJobs: { name: string; template: { spec: JobSpec } }[] })
      .replicatedJobs;
    expect(rjobs.map((r) => [r.name, r.template.spec.completions])).toEqual([
      ['scheduler', 1],
      ['server', 2],
      ['worker', 3],
    ]);
    for (const r of rjobs) validJob(`slr-${r.name}-0`, r.template.spec);
    // The checks can fail: a wrong type, a misspelt field.
    expect(() => validJob('x', { ...rjobs[0]!.template.spec, completions: 'one' })).toThrow(
      /completions must be integer/,
    );
    expect(
      validateJobSet({
        ...set,
        spec: { ...(set.spec as object), startupPolicy: { startupPolicyOrder: 'Sequential' } },
      }),
    ).toBe(false);
    expect(validateJobSet({ ...set, spec: { ...(set.spec as object), failurPolicy: {} } })).toBe(false);
  });

  it('starts the scheduler first, restarts the set on a transient failure and fails it on exit 1 or 2', () => {
    const spec = set.spec as {
      startupPolicy: unknown;
      failurePolicy: { maxRestarts: number; rules: unknown[] };
      network: unknown;
      replicatedJobs: {
        template: { spec: { backoffLimit: number; podFailurePolicy: { rules: unknown[] } } };
      }[];
    };
    expect(spec.startupPolicy).toEqual({ startupPolicyOrder: 'InOrder' });
    expect(spec.failurePolicy.maxRestarts).toBe(3);
    expect(spec.failurePolicy.rules).toEqual([
      { name: 'fatalExit', action: 'FailJobSet', onJobFailureReasons: ['PodFailurePolicy'] },
    ]);
    for (const r of spec.replicatedJobs) {
      expect(r.template.spec.backoffLimit).toBe(0);
      expect(r.template.spec.podFailurePolicy.rules[0]).toEqual({
        action: 'FailJob',
        onExitCodes: { containerName: 'pskv', operator: 'In', values: [1, 2] },
      });
    }
    expect(spec.network).toEqual({
      enableDNSHostnames: true,
      subdomain: 'slr',
      publishNotReadyAddresses: true,
    });
    expect(service.spec).toMatchObject({
      clusterIP: 'None',
      selector: { 'jobset.sigs.k8s.io/jobset-name': 'slr' },
    });
  });

  it("gives every pod an environment from which resolveClusterEnv finds its role and the scheduler's pod", () => {
    const spec = set.spec as { replicatedJobs: { name: string; template: { spec: JobSpec } }[] };
    const roles: string[] = [];
    for (const r of spec.replicatedJobs) {
      for (let i = 0; i < r.template.spec.completions; i++) {
        // JobSet's labels on the pod of job 0 of replicated job r, and its host name.
        const labels = {
          ...r.template.spec.template.metadata.labels,
          'jobset.sigs.k8s.io/jobset-name': 'slr',
          'jobset.sigs.k8s.io/replicatedjob-name': r.name,
          'jobset.sigs.k8s.io/job-index': '0',
        };
        const container = r.template.spec.template.spec.containers[0]!;
        expect(container.args).toEqual(['start', '--dataset', 'imdb']);
        const { dialect, vars } = resolveClusterEnv(podEnv(container, labels, i));
        expect(dialect).toBe('jobset');
        // JobSet names the pod <jobset>-<replicated job>-<job index>-<pod index> under the subdomain.
        expect(vars.PS_HOST).toBe(`slr-${r.name}-0-${i}.slr`);
        expect(vars.PS_SCHEDULER).toBe('slr-scheduler-0-0.slr:9700');
        roles.push(vars.PS_ROLE!);
      }
    }
    expect(roles).toEqual(['scheduler', 'server', 'server', 'worker', 'worker', 'worker']);
  });
});

describe('k8sManifests: an Indexed Job and a headless Service (no JobSet)', () => {
  const objects = k8sManifests({
    name: 'slr',
    image: 'pskv:1',
    servers: 1,
    workers: 2,
    flavor: 'indexed-job',
    args: [],
    namespace: 'ml',
    secretName: 'pskv-secret',
  });

  it('validates against the Kubernetes schemas, and each rank finds its role under the Service', () => {
    const [service, job] = objects as [K8sObject, K8sObject];
    expect(objects.map((o) => o.kind)).toEqual(['Service', 'Job']);
    new Service(service as never).validate();
    new Job(job as never).validate();
    const spec = job.spec as JobSpec & { completionMode: string; parallelism: number };
    expect([spec.completionMode, spec.completions, spec.parallelism]).toEqual(['Indexed', 4, 4]);
    expect(spec.template.spec.subdomain).toBe((service.metadata as { name: string }).name);
    expect((service.metadata as { namespace: string }).namespace).toBe('ml');
    const container = spec.template.spec.containers[0]!;
    expect(container.env.find((e) => e.name === 'PS_SECRET')).toEqual({
      name: 'PS_SECRET',
      valueFrom: { secretKeyRef: { name: 'pskv-secret', key: 'secret' } },
    });
    const labels = { 'batch.kubernetes.io/job-name': 'slr' };
    const found = [0, 1, 2, 3].map((i) => resolveClusterEnv(podEnv(container, labels, i)).vars);
    expect(found.map((v) => [v.PS_ROLE, v.PS_HOST, v.PS_SCHEDULER])).toEqual([
      ['scheduler', 'slr-0.slr', 'slr-0.slr:9700'],
      ['server', 'slr-1.slr', 'slr-0.slr:9700'],
      ['worker', 'slr-2.slr', 'slr-0.slr:9700'],
      ['worker', 'slr-3.slr', 'slr-0.slr:9700'],
    ]);
  });

  it('refuses a name that is no DNS label, and counts below 1, with PS_ERR_CONFIG', () => {
    const base = { name: 'slr', image: 'i', servers: 1, workers: 1, flavor: 'jobset' as const, args: [] };
    expect(() => k8sManifests({ ...base, name: 'My_Job' })).toThrow(
      /PS_ERR_CONFIG: --name must be a DNS label/,
    );
    expect(() => k8sManifests({ ...base, workers: 0 })).toThrow(/--workers must be an integer from 1/);
    expect(() => k8sManifests({ ...base, port: 0 })).toThrow(/--port must be a port/);
  });
});

describe('pskv k8s', () => {
  it('writes YAML that parses back into the same objects, passing the job options given to pskv start', () => {
    expect(existsSync(cli), `${cli} (npm run build)`).toBe(true);
    const out = execFileSync(
      process.execPath,
      [
        cli,
        'k8s',
        '--image',
        'pskv:1',
        '--servers',
        '2',
        '--workers',
        '2',
        '--epochs',
        '1',
        '--no-bigrams',
        '--dataset',
        'spam',
      ],
      { encoding: 'utf8' },
    );
    const docs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    expect(docs).toEqual(
      k8sManifests({
        name: 'pskv',
        image: 'pskv:1',
        servers: 2,
        workers: 2,
        flavor: 'jobset',
        args: ['--dataset', 'spam', '--epochs', '1', '--no-bigrams'],
      }),
    );
    expect(out).toBe(manifestsYaml(docs));
    // --out writes one file an object.
    const dir = mkdtempSync(join(tmpdir(), 'pskv-k8s-'));
    try {
      execFileSync(
        process.execPath,
        [cli, 'k8s', '--image', 'pskv:1', '--flavor', 'indexed-job', '--out', dir],
        { encoding: 'utf8', stdio: 'pipe' },
      );
      const job = parseAllDocuments(readFileSync(join(dir, 'job.yaml'), 'utf8'))[0]!.toJS() as K8sObject;
      new Job(job as never).validate();
      expect(existsSync(join(dir, 'service.yaml'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad options with status 2 and a hint to its --help', () => {
    let err: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'k8s', '--image', 'pskv:1', '--name', 'Bad_Name'], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (e) {
      err = e as { status: number; stderr: string };
    }
    expect(err?.status).toBe(2);
    expect(err?.stderr).toMatch(/--name must be a DNS label[\s\S]*Run 'pskv k8s --help'/);
  });
});

describe('Dockerfile', () => {
  it('builds the image from node:20-slim with npm ci, and every file it copies or runs exists', () => {
    const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const instructions = lines.map((l) => l.split(/\s+/)[0]);
    expect(
      instructions.every((i) =>
        /^(FROM|WORKDIR|COPY|RUN|ENV|ENTRYPOINT|CMD|LABEL|USER|EXPOSE|ARG)$/.test(i!),
      ),
      instructions.join(' '),
    ).toBe(true);
    expect(lines[0]).toMatch(/^FROM node:20-slim\b/);
    expect(text).toMatch(/^RUN npm ci\b/m);
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(text);
    expect(JSON.parse(entry![1]!)).toEqual(['node', 'packages/apps/dist/cli.js']);
    // Each COPY source is in the repository; the entry point is what `npm run build` writes.
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(root, src)), src).toBe(true);
    }
    expect(existsSync(join(root, 'packages/apps/src/cli.ts'))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.build).toBeDefined();
  });
});
