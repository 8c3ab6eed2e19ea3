// Host names inside the network namespaces of a NetnsLab: `ip netns exec NAME` bind-mounts each
// file of /etc/netns/NAME/ over its namesake in /etc (iproute2 does this), so a hosts file there
// is the namespace's own /etc/hosts, read by the system resolver (getaddrinfo, Node's
// dns.lookup) of every process started in it. What a cluster's DNS does for pods, offline.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { NetnsLab } from './netns.js';

/**
 * Gives every namespace of `lab` the same hosts file: `names[i]` are the names of host i (its
 * address `lab.hosts[i].ip`), and localhost. Returns the function that removes the files
 * (idempotent; also run at process exit).
 */
export function writeHostsFiles(lab: NetnsLab, names: readonly (readonly string[])[]): () => void {
  const text = ['127.0.0.1 localhost', ...names.map((n, i) => `${lab.hosts[i]!.ip} ${n.join(' ')}`), ''].join(
    '\n',
  );
  const dirs = lab.hosts.map((h) => `/etc/netns/${h.ns}`);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  process.on('exit', remove);
  try {
    for (const d of dirs) {
      mkdirSync(d, { recursive: true });
      writeFileSync(`${d}/hosts`, text);
    }
  } catch (err) {
    remove();
    throw err;
  }
  return remove;
}
