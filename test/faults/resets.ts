// Connection resets with `ss -K` (the kernel's SOCK_DESTROY; the test runs as root): a reset
// socket errors on both ends (ECONNRESET / ECONNABORTED), as when a middlebox or a peer's kernel
// drops a connection, so frames in flight are lost and the transports reconnect.
import { execFileSync } from 'node:child_process';

/** Established TCP sockets on 127.0.0.1: local and peer port, and the pid owning each. */
export interface SocketRow {
  localPort: number;
  peerPort: number;
  pid: number | undefined;
}

function ss(args: string[]): string {
  return execFileSync('ss', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every established TCP socket to or from `port` on 127.0.0.1. */
export function socketsOf(port: number): SocketRow[] {
  const text = ss([
    '-tnpH',
    'state',
    'established',
    '(',
    'dport',
    '=',
    `:${port}`,
    'or',
    'sport',
    '=',
    `:${port}`,
    ')',
  ]);
  const rows: SocketRow[] = [];
  for (const line of text.split('\n')) {
    const m = /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:(\d+)(.*)$/.exec(line.trim());
    if (!m) continue;
    const pid = /pid=(\d+)/.exec(m[3] ?? '');
    rows.push({ localPort: Number(m[1]), peerPort: Number(m[2]), pid: pid ? Number(pid[1]) : undefined });
  }
  return rows;
}

/** Whether `ss -K` can destroy sockets here (needs SOCK_DESTROY in the kernel and root). */
export function ssKillWorks(): boolean {
  try {
    ss(['-K', '-tnH', 'dst', '127.0.0.1', 'dport', '=', ':1']);
    return true;
  } catch {
    return false;
  }
}

/** Resets every connection dialed to `port` (`dport`) and every one accepted on it (`sport`). Returns the sockets destroyed. */
export function resetPort(port: number, side: 'dport' | 'sport'): number {
  const text = ss(['-K', '-tnH', side === 'dport' ? 'dst' : 'src', '127.0.0.1', side, '=', `:${port}`]);
  return text.split('\n').filter((l) => l.includes('127.0.0.1')).length;
}

/**
 * Resets the connections that processes `pids` dialed to `port` (e.g. a master's links to its
 * replica, or a worker's to a server), and only those: at the dialing end (`src` of the dialer,
 * `dport = :port`) or at the accepting end (`sport = :port`, `dst` the dialer). The kernel resets
 * both ends either way. Returns the sockets destroyed.
 */
export function resetLinksFrom(
  pids: readonly number[],
  port: number,
  end: 'dialer' | 'acceptor' = 'dialer',
): number {
  let n = 0;
  for (const row of socketsOf(port)) {
    if (row.peerPort !== port || row.pid === undefined || !pids.includes(row.pid)) continue;
    const dialer = ['127.0.0.1', 'sport', '=', `:${row.localPort}`];
    const acceptor = ['127.0.0.1', 'dport', '=', `:${port}`];
    const args =
      end === 'dialer'
        ? ['-K', '-tnH', 'src', ...dialer, 'dst', ...acceptor]
        : [
            '-K',
            '-tnH',
            'src',
            '127.0.0.1',
            'sport',
            '=',
            `:${port}`,
            'dst',
            '127.0.0.1',
            'dport',
            '=',
            `:${row.localPort}`,
          ];
    n += ss(args)
      .split('\n')
      .filter((l) => l.includes('127.0.0.1')).length;
  }
  return n;
}
