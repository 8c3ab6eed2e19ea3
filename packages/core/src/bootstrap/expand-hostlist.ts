import { PsError, PsErrorCode } from '../errors.js';

/** Most host names one list may expand to (a bound against `node[0-999999999]`). */
export const MAX_HOSTLIST_HOSTS = 100_000;

/**
 * Expands a Slurm host list (`SLURM_JOB_NODELIST`, the format of `scontrol show hostnames`) into
 * host names, in order: `node[01-03,07],gpu7` is `node01 node02 node03 node07 gpu7`. A name may
 * hold several bracket groups (`rack[1-2]-n[1-2]` is `rack1-n1 rack1-n2 rack2-n1 rack2-n2`, the
 * last group varying fastest); a range keeps the zero padding of its lower bound (`[08-10]` is
 * `08 09 10`). No npm package expands Slurm host lists, hence this small parser (property-tested).
 * @param name the variable the list came from, for the error message.
 * @throws PsError `PS_ERR_CLUSTER_ENV` for an empty list, unbalanced or nested brackets, a range
 *   whose bounds are not digits or run backwards, or more than {@link MAX_HOSTLIST_HOSTS} names.
 */
export function expandHostlist(list: string, name = 'SLURM_JOB_NODELIST'): string[] {
  const bad = (why: string) =>
    new PsError(PsErrorCode.CLUSTER_ENV, `${name} is not a Slurm host list (${why}): '${list}'`);
  const items = splitTopLevel(list.trim(), bad);
  if (items.length === 0) throw bad('empty');
  const out: string[] = [];
  for (const item of items) {
    if (item === '') throw bad('an empty name between commas');
    for (const host of expandName(item, bad)) {
      out.push(host);
      if (out.length > MAX_HOSTLIST_HOSTS) throw bad(`more than ${MAX_HOSTLIST_HOSTS} hosts`);
    }
  }
  return out;
}

/** Splits at the commas outside brackets. */
function splitTopLevel(s: string, bad: (why: string) => PsError): string[] {
  if (s === '') return [];
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[') {
      if (depth++ > 0) throw bad('nested brackets');
    } else if (c === ']') {
      if (--depth < 0) throw bad("a ']' without '['");
    } else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw bad("a '[' without ']'");
  parts.push(s.slice(start));
  return parts;
}

/** The names of one item: the cartesian product of its bracket groups, the last varying fastest. */
function expandName(item: string, bad: (why: string) => PsError): string[] {
  let names = [''];
  let rest = item;
  while (rest !== '') {
    const open = rest.indexOf('[');
    if (open < 0) {
      names = names.map((n) => n + rest);
      break;
    }
    const close = rest.indexOf(']', open);
    const prefix = rest.slice(0, open);
    const values = expandGroup(rest.slice(open + 1, close), bad);
    if (names.length * values.length > MAX_HOSTLIST_HOSTS) throw bad(`more than ${MAX_HOSTLIST_HOSTS} hosts`);
    names = names.flatMap((n) => values.map((v) => n + prefix + v));
    rest = rest.slice(close + 1);
  }
  return names;
}

/** `01-03,07` as `['01', '02', '03', '07']`. */
function expandGroup(group: string, bad: (why: string) => PsError): string[] {
  const out: string[] = [];
  for (const part of group.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad(`'[${group}]' holds '${part}', not a number or a range a-b`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad(`the range '${part}' runs backwards`);
    if (out.length + hi - lo + 1 > MAX_HOSTLIST_HOSTS) throw bad(`more than ${MAX_HOSTLIST_HOSTS} hosts`);
    const width = m[1]!.length;
    for (let v = lo; v <= hi; v++) out.push(String(v).padStart(width, '0'));
  }
  return out;
}
