// Network namespaces for the partition tests: one namespace per node, each with a veth into a
// bridge that lives in a hub namespace of its own, addresses in 10.213.0.0/24 inside those
// namespaces only (the host's own network is never touched). Partitions are iptables DROP rules
// on INPUT inside the namespaces (packets vanish silently: TCP connections stay up and stall, as
// behind a broken switch); healing deletes the rules. Random packet loss is the `statistic` match.
// Needs root and `ip`/`iptables` (iproute2, iptables; scripts/setup-machine.sh installs both).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A node's namespace: its name (for `ip netns exec`) and its address on the bridge. */
export interface NetnsHost {
  readonly ns: string;
  readonly ip: string;
  /** The command prefix that runs a program inside this namespace. */
  readonly prefix: readonly string[];
}

/**
 * Why namespaces cannot be made here, or undefined when they can (creates and deletes one). The
 * partition suite fails with this message rather than skip.
 */
export function netnsProblem(): string | undefined {
  const ns = `ps-probe-${randomBytes(3).toString('hex')}`;
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['netns', 'exec', ns, 'iptables', '-S', 'INPUT']);
    return undefined;
  } catch (err) {
    return `network namespaces are needed (run as root with iproute2 and iptables; scripts/setup-machine.sh installs them): ${(err as Error).message}`;
  } finally {
    try {
      run('ip', ['netns', 'del', ns]);
    } catch {
      // never made
    }
  }
}

/**
 * A set of namespaces joined by one bridge. `hosts[i]` is node namespace i at 10.213.0.(i+1).
 * `partition` / `heal` cut and restore traffic between two of them; `destroy` deletes them all
 * (idempotent; also run at process exit in case the test runner dies first).
 */
export class NetnsLab {
  readonly hosts: NetnsHost[] = [];
  private readonly hub: string;
  private readonly rules: { ns: string; rule: string[] }[] = [];
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  constructor(count: number) {
    const tag = `ps-${randomBytes(3).toString('hex')}`;
    this.hub = `${tag}-hub`;
    process.on('exit', this.onExit);
    try {
      run('ip', ['netns', 'add', this.hub]);
      run('ip', ['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', ['-n', this.hub, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < count; i++) {
        const ns = `${tag}-n${i}`;
        const ip = `10.213.0.${i + 1}`;
        run('ip', ['netns', 'add', ns]);
        this.hosts.push({ ns, ip, prefix: ['ip', 'netns', 'exec', ns] });
        const hubEnd = `v${i}`;
        run('ip', [
          '-n',
          this.hub,
          'link',
          'add',
          hubEnd,
          'type',
          'veth',
          'peer',
          'name',
          'eth0',
          'netns',
          ns,
        ]);
        run('ip', ['-n', this.hub, 'link', 'set', hubEnd, 'master', 'br0', 'up']);
        run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Drops every packet between hosts `a` and `b` (both directions), silently. */
  partition(a: number, b: number): void {
    this.drop(a, b, []);
    this.drop(b, a, []);
  }

  /** Isolates host `a` from every other host (each of its links stalls). */
  isolate(a: number): void {
    for (let b = 0; b < this.hosts.length; b++) if (b !== a) this.partition(a, b);
  }

  /** Drops a share `p` (0..1) of the packets host `to` receives from host `from`. */
  loss(from: number, to: number, p: number): void {
    this.drop(to, from, ['-m', 'statistic', '--mode', 'random', '--probability', String(p)]);
  }

  /** Removes every rule added since the last heal: all links carry traffic again. */
  heal(): void {
    for (const { ns, rule } of this.rules.splice(0)) {
      run('ip', ['netns', 'exec', ns, 'iptables', '-D', ...rule]);
    }
  }

  /** The names of this lab's namespaces that still exist on the machine (`ip netns list`). */
  remaining(): string[] {
    const mine = new Set([...this.hosts.map((h) => h.ns), this.hub]);
    return run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => mine.has(n));
  }

  /** Deletes every namespace (and with them the veths and rules). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    for (const ns of [...this.hosts.map((h) => h.ns), this.hub]) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // not made, or already gone
      }
    }
  }

  private drop(at: number, from: number, match: string[]): void {
    const ns = this.hosts[at]!.ns;
    const rule = ['INPUT', '-s', this.hosts[from]!.ip, ...match, '-j', 'DROP'];
    run('ip', ['netns', 'exec', ns, 'iptables', '-I', ...rule]);
    this.rules.push({ ns, rule });
  }
}
