// The README's failover demo, run again and again, and a longer job whose server connections are
// reset while it trains: `ps slr` must finish every time (exit 0, a summary line).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from '../helpers/processes.js';
import { resetPort, socketsOf, ssKillWorks } from './resets.js';

const cli = fileURLToPath(new URL('../../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

interface Summary {
  accuracy: number;
  killed: { role: string; at: number }[];
}

const DEMO = ['slr', '--dataset', 'spam', '--servers', '3', '--replicas', '1'];

async function summary(p: Proc, ms: number): Promise<Summary> {
  const code = await exitCode(p, ms);
  expect(code, p.stderr.slice(-40).join('\n')).toBe(0);
  return JSON.parse(p.lines[p.lines.length - 1]!) as Summary;
}

/** The pids of the processes `pid` started, with their PS_ROLE. */
function children(pid: number): { pid: number; role: string | undefined }[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .map((c) => {
      let role: string | undefined;
      try {
        const env = readFileSync(`/proc/${c}/environ`, 'utf8').split('\0');
        role = env.find((e) => e.startsWith('PS_ROLE='))?.slice('PS_ROLE='.length);
      } catch {
        // exited meanwhile
      }
      return { pid: c, role };
    });
}

/** The TCP port process `pid` listens on, if any. */
function listeningPort(pid: number): number | undefined {
  const text = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const m = /127\.0\.0\.1:(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

async function until<T>(what: string, probe: () => T | undefined, ms: number): Promise<T> {
  const started = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() - started > ms) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

describe('ps slr under faults, every time', () => {
  it('the README failover demo (a server and a worker SIGKILLed) succeeds in 5 of 5 runs', async () => {
    const accuracies: number[] = [];
    for (let run = 0; run < 5; run++) {
      const p = spawnNode(cli, {}, [...DEMO, '--kill', 'server:1@0.3,worker:1@0.5', '--json']);
      const s = await summary(p, 240_000);
      expect(s.killed.map((k) => k.role).sort()).toEqual(['ps-server (2/3)', 'ps-worker (2/2)']);
      expect(s.accuracy).toBeGreaterThan(0.95);
      accuracies.push(s.accuracy);
    }
    console.log(`failover demo: 5 of 5 runs succeeded, accuracy ${accuracies.join(', ')}`);
  }, 1_300_000);

  it('--epochs 10 completes while one server’s connections are reset 8 times (ss -K)', async () => {
    expect(ssKillWorks(), 'ss -K must work here (root, SOCK_DESTROY)').toBe(true);
    const p = spawnNode(cli, {}, [...DEMO, '--epochs', '10', '--json']);
    const server = await until(
      'a server process with a port and connections',
      () => {
        const s = children(p.pid).find((c) => c.role === 'server');
        const port = s && listeningPort(s.pid);
        return port !== undefined && socketsOf(port).length >= 4 ? port : undefined;
      },
      120_000,
    );
    let resets = 0;
    for (let i = 0; i < 8; i++) {
      // Wait until the links are back (the job is running again) before the next reset.
      await until(
        'the server’s links to be re-established',
        () => (socketsOf(server).length >= 4 ? true : undefined),
        60_000,
      );
      const n = resetPort(server, i % 2 === 0 ? 'dport' : 'sport');
      if (n > 0) resets++;
    }
    expect(resets).toBe(8);
    const s = await summary(p, 400_000);
    console.log(`--epochs 10 with ${resets} resets of one server's connections: accuracy ${s.accuracy}`);
    expect(s.accuracy).toBeGreaterThan(0.95);
  }, 600_000);
});
