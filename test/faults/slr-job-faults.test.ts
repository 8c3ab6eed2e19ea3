// The sparse logistic regression job survives a server and a worker SIGKILLed during training:
// the server's replica takes its ranges over, the worker's shard goes to a live worker, and the
// model reaches the accuracy of an undisturbed run (within 1 point).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from '../helpers/processes.js';

const cli = fileURLToPath(new URL('../../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

interface Summary {
  accuracy: number;
  auc: number;
  killed: { role: string; at: number }[];
  replicas: number;
}

async function run(extra: string[]): Promise<Summary> {
  const p = spawnNode(cli, {}, [
    'slr',
    '--dataset',
    'spam',
    '--servers',
    '3',
    '--workers',
    '2',
    '--replicas',
    '1',
    '--epochs',
    '6',
    '--json',
    ...extra,
  ]);
  const code = await exitCode(p, 240_000);
  expect(code, p.stderr.join('\n')).toBe(0);
  return JSON.parse(p.lines[p.lines.length - 1]!) as Summary;
}

describe('ps slr under faults', () => {
  it('finishes with one server and one worker SIGKILLed, within 1 point of an undisturbed run', async () => {
    const calm = await run([]);
    const hurt = await run(['--kill', 'server:1@0.3,worker:1@0.5']);
    expect(hurt.killed.map((k) => k.role).sort()).toEqual(['ps-server (2/3)', 'ps-worker (2/2)']);
    console.log(`undisturbed accuracy ${calm.accuracy}, with a server and a worker killed ${hurt.accuracy}`);
    expect(calm.accuracy).toBeGreaterThan(0.95);
    expect(Math.abs(hurt.accuracy - calm.accuracy)).toBeLessThanOrEqual(0.01);
  }, 600_000); // two jobs of ~30 s each alone; far more beside the other fault files on 2 cores
});
