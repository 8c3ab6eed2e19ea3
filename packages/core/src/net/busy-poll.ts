import { PsError, PsErrorCode } from '../errors.js';

/**
 * Default busy-poll window, in µs: how long a process's event loop keeps polling its sockets
 * after network activity before it may sleep. `PS_BUSY_POLL_US` in the environment replaces the
 * default (0 turns busy polling off for every layer that does not set `busyPollUs`).
 */
export const DEFAULT_BUSY_POLL_US = 100;

/** Gaps remembered: a spin starts only when at least half of the last 8 were shorter than the window. */
const HISTORY = 8;
const HISTORY_MASK = (1 << HISTORY) - 1;
/** Spinning that got less than this share of a core for its wall time was crowded out: pause. */
const CONTENDED_SHARE = 0.5;
/**
 * The share is judged over this much wall time of spinning (ms), summed over spins: the kernel's
 * CPU accounting is lumpy below a millisecond (a 0.3 ms busy loop measured 0.15–3 cores here).
 */
const JUDGE_AFTER_MS = 10;
/** How long a crowded-out process leaves the cores to others before it may spin again, in ms. */
const CONTENDED_PAUSE_MS = 50;

// Bound now, before any test or host can swap them for fakes: the spin must run on real time.
const now: () => number = performance.now.bind(performance);
const schedule: ((f: () => void) => unknown) | undefined =
  typeof globalThis.setImmediate === 'function' ? globalThis.setImmediate.bind(globalThis) : undefined;
const processCpuMicros: (() => number) | undefined =
  typeof process !== 'undefined' && typeof process.cpuUsage === 'function'
    ? () => {
        const u = process.cpuUsage();
        return u.user + u.system;
      }
    : undefined;

/** What a {@link BusyPoll} did since the process started: counts. */
export interface BusyPollStats {
  /** Spins started (each lasts until a window passes with no network event). */
  spins: number;
  /** Network events that arrived during a spin (each one a sleep and a wake-up saved). */
  caught: number;
  /** Spins paused because the process got under half a core while spinning (others need the CPU). */
  crowded: number;
}

/**
 * Busy polling of the event loop, the user-space form of Linux's `SO_BUSY_POLL` and of the
 * poll-mode loops of RDMA and DPDK stacks: after a frame is sent or received, the process keeps its
 * event loop turning (a `setImmediate` chain, so libuv polls its sockets with a zero timeout)
 * for a window of `windowUs`, instead of sleeping in `epoll_wait` and being woken by the kernel.
 * On a virtual machine a sleeping core's wake-up costs tens of µs on each end of a round trip
 * (measured here: a 1-byte `node:net` ping-pong 71–93 µs median sleeping, 14–18 µs with both ends
 * polling; docs/benchmarks.md, "Busy polling"), which bounds every small request with one in
 * flight.
 *
 * It spends CPU only where traffic is dense: a spin starts only when at least 4 of the last 8 gaps
 * between network events were shorter than the window (a spin that ends empty counts as a long
 * gap), and spinning that got less than half a core for its wall time, judged over every 10 ms
 * of it (other processes want the CPU: more processes than cores), pauses for 50 ms. Nor does it
 * spin while this process's workers await more than one request ({@link BusyPoll.awaiting}):
 * then answers arrive back to back, a loop that sleeps reads several in one wake-up and writes
 * the requests they release in one batch, where a spinning loop takes each alone, with a read and
 * a write system call apiece (1,000-key pulls, pushes and pushPulls with 8 in flight ran 1.17–1.23
 * times faster so, medians of 11 interleaved pairs; docs/benchmarks.md, item 20). One per
 * process, shared by every layer in it ({@link BusyPoll.shared}); where `setImmediate` does not
 * exist (a browser) it never spins.
 */
export class BusyPoll {
  /** The process's one poller. */
  static readonly shared = new BusyPoll();

  private readonly counts: BusyPollStats = { spins: 0, caught: 0, crowded: 0 };
  private spinning = false;
  /** The spin ends at this time (ms, `performance.now`), unless another event moves it. */
  private deadline = 0;
  private lastEvent = Number.NEGATIVE_INFINITY;
  /** Bit i: the gap before the i-th latest event was shorter than the window. */
  private recent = 0;
  private pausedUntil = 0;
  private spinStart = 0;
  private spinCpu = 0;
  /** Wall and CPU time (ms) of the spins since the share was last judged. */
  private spunMs = 0;
  private spunCpuMs = 0;
  /** Requests this process's workers have issued and not yet seen finish. */
  private awaited = 0;
  private readonly step = (): void => this.turn();

  /**
   * @param cpuMicros the process's CPU time so far, in µs (default `process.cpuUsage`, user plus
   *   system; `null` in a browser, where crowding is never judged). A test passes its own reading.
   */
  constructor(private readonly cpuMicros: (() => number) | null = processCpuMicros ?? null) {}

  /** Counts since the process started (see {@link BusyPollStats}). */
  get stats(): Readonly<BusyPollStats> {
    return this.counts;
  }

  /** Requests this process's workers await now (issued, not yet finished). */
  get awaitedRequests(): number {
    return this.awaited;
  }

  /** Whether the loop is being kept turning now. */
  get active(): boolean {
    return this.spinning;
  }

  /**
   * A worker in this process issued a request (`+1`) or saw one finish (`-1`). While more than
   * one is awaited, the process does not spin: their answers arrive back to back and a sleeping
   * loop reads several at a time, where a spinning one takes each alone.
   */
  awaiting(delta: 1 | -1): void {
    this.awaited += delta;
  }

  /**
   * A frame was sent or received: keep polling for `windowMs` from now (if traffic is dense enough
   * to be worth it). Cheap: a clock read and a few comparisons when no spin starts.
   * @param windowMs the window, in ms (`busyPollUs / 1000`); 0 or less does nothing.
   */
  kick(windowMs: number): void {
    if (!(windowMs > 0) || schedule === undefined) return;
    const t = now();
    const short = t - this.lastEvent < windowMs ? 1 : 0;
    this.lastEvent = t;
    this.recent = ((this.recent << 1) | short) & HISTORY_MASK;
    if (this.spinning) {
      this.counts.caught++;
      if (t + windowMs > this.deadline) this.deadline = t + windowMs;
      return;
    }
    if (t < this.pausedUntil || this.awaited > 1 || popcount8(this.recent) < HISTORY / 2) return;
    this.spinning = true;
    this.counts.spins++;
    this.deadline = t + windowMs;
    this.spinStart = t;
    this.spinCpu = this.cpuMicros?.() ?? 0;
    schedule(this.step);
  }

  private turn(): void {
    if (this.awaited > 1) {
      // Several answers are on their way: stop without judging the spin or counting a gap.
      this.spinning = false;
      return;
    }
    const t = now();
    if (t < this.deadline) {
      schedule!(this.step);
      return;
    }
    this.spinning = false;
    // The window passed empty: a long gap.
    this.recent = (this.recent << 1) & HISTORY_MASK;
    if (this.cpuMicros === null) return;
    this.spunMs += t - this.spinStart;
    this.spunCpuMs += (this.cpuMicros() - this.spinCpu) / 1000;
    if (this.spunMs < JUDGE_AFTER_MS) return;
    if (this.spunCpuMs < CONTENDED_SHARE * this.spunMs) {
      this.counts.crowded++;
      this.pausedUntil = t + CONTENDED_PAUSE_MS;
    }
    this.spunMs = 0;
    this.spunCpuMs = 0;
  }
}

/** Set bits of the low 8 bits of `x`. */
function popcount8(x: number): number {
  let c = 0;
  for (let v = x & 0xff; v !== 0; v &= v - 1) c++;
  return c;
}

/**
 * The busy-poll window of a layer, in ms: `busyPollUs` if given, else `PS_BUSY_POLL_US` from the
 * environment, else {@link DEFAULT_BUSY_POLL_US}; 0 turns it off.
 * @throws PsError `PS_ERR_CONFIG` for a negative or non-finite value (option or environment).
 */
export function busyPollWindowMs(busyPollUs: number | undefined): number {
  const env = typeof process !== 'undefined' ? process.env?.PS_BUSY_POLL_US : undefined;
  const us = busyPollUs ?? (env !== undefined && env !== '' ? Number(env) : DEFAULT_BUSY_POLL_US);
  if (!(us >= 0) || !Number.isFinite(us)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `busyPollUs must be a number of µs ≥ 0 (got ${busyPollUs ?? `PS_BUSY_POLL_US=${env}`}); 0 turns busy polling off`,
    );
  }
  return us / 1000;
}
