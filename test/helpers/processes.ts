import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** A spawned node process with its output lines. Every one is killed by pid in `killAll`. */
export interface Proc {
  child: ChildProcess;
  pid: number;
  lines: string[];
  stderr: string[];
  exit: Promise<number | null>;
  /** Resolves with the exit code once the process exited and its stdout and stderr were read to the end. */
  closed: Promise<number | null>;
  /** Resolves with the first stdout line that parses as JSON and satisfies `pred`. */
  waitFor<T = Record<string, unknown>>(pred: (o: T) => boolean, timeoutMs?: number): Promise<T>;
}

const live = new Set<Proc>();

export function spawnNode(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
  opts: { cwd?: string; prefix?: readonly string[] } = {},
): Proc {
  // `prefix`: a command that execs node in place (e.g. `ip netns exec NAME`), so the pid is node's.
  const [cmd, ...pre] = [...(opts.prefix ?? []), process.execPath];
  const child = spawn(cmd!, [...pre, script, ...args], {
    env: { ...process.env, ...env },
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const watchers: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of watchers) w(l);
  });
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  // 'close' comes once the process exited and its stdout and stderr ended: every line it printed
  // has been read by then. 'exit' can come first, with its last lines still in the pipe.
  const closed = once(child, 'close').then(([code]) => code as number | null);
  const proc: Proc = {
    child,
    pid: child.pid!,
    lines,
    stderr,
    exit,
    closed,
    waitFor<T>(pred: (o: T) => boolean, timeoutMs = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const test = (l: string) => {
          try {
            const o = JSON.parse(l) as T;
            if (pred(o)) {
              clearTimeout(timer);
              resolve(o);
              return true;
            }
          } catch {
            // not JSON
          }
          return false;
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for a line; stdout: ${lines.join('\n')}\nstderr: ${stderr.join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        if (lines.some(test)) return;
        watchers.push((l) => void test(l));
        void closed.then((code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before the line; stderr: ${stderr.join('\n')}`));
        });
      });
    },
  };
  live.add(proc);
  void exit.then(() => live.delete(proc));
  return proc;
}

/** Kills every process spawned by `spawnNode` that is still running, by pid. */
export async function killAll(): Promise<void> {
  const procs = [...live];
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(procs.map((p) => p.exit));
}

/** Waits for a process's exit code, with every line it printed read, failing after `ms`. */
export async function exitCode(p: Proc, ms = 60_000): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`process ${p.pid} did not exit within ${ms} ms; stderr: ${p.stderr.join('\n')}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p.closed, t]);
  } finally {
    clearTimeout(timer);
  }
}
