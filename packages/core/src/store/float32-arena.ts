import { ADD_KERNEL_WASM } from './add-kernel-wasm.js';

const PAGE = 65536;
/** Floats copied in (and out) per kernel call: 64 KiB each way. */
const CHUNK = 16384;
/** Below this many values a plain typed-array loop beats copying into the arena and calling out. */
export const ARENA_MIN_RUN = 256;

interface Kernel {
  add(w: number, v: number, n: number): void;
}

// The few WebAssembly globals used here (the project's `lib` is ES2022, without the DOM's types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (mod: WasmModule, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number }) => WasmMemory;
};

let module: WasmModule | null | undefined;

/** The compiled kernel, or `null` where WebAssembly SIMD is missing (the loops stay in JS). */
function kernelModule(): WasmModule | null {
  if (module !== undefined) return module;
  try {
    const bin = Uint8Array.from(atob(ADD_KERNEL_WASM), (c) => c.charCodeAt(0));
    module = WebAssembly.validate(bin) ? new WebAssembly.Module(bin) : null;
  } catch {
    module = null;
  }
  return module;
}

/** Arenas by the buffer their slab views: how the sum rule finds the kernel from a slab. */
const byBuffer = new WeakMap<ArrayBuffer, Float32Arena>();

/**
 * One float32 slab kept in a `WebAssembly.Memory`, with the SIMD add loop of `add-kernel.wat`
 * over it. The memory holds `[slab | pushed values]`: a run's pushed values are copied in behind
 * the slab 16,384 at a time, added into the slab with f32x4 (4 lanes a step), and, for a
 * pushPull, the values just added copied out of the slab into the answer. Growing the
 * memory keeps the slab in place (no copy) but detaches the old views, so {@link slab} is read
 * again after any call that may grow ({@link reserve}, {@link addRun}): {@link onMove} is told.
 */
export class Float32Arena {
  /** The slab: `capacity` floats at offset 0 of the memory. */
  slab: Float32Array;
  /** Called with the new slab view whenever the memory grew. */
  onMove: (slab: Float32Array) => void = () => {};
  private readonly memory: WasmMemory;
  private readonly k: Kernel;

  private constructor(mod: WasmModule, capacity: number) {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil((capacity * 4) / PAGE) || 1 });
    this.k = new WebAssembly.Instance(mod, { env: { memory: this.memory } }).exports as unknown as Kernel;
    this.slab = new Float32Array(this.memory.buffer, 0, capacity);
    byBuffer.set(this.memory.buffer, this);
  }

  /**
   * An arena of `capacity` zeroed floats, or `undefined` where WebAssembly SIMD is missing or the
   * memory cannot be had (a wasm32 memory holds at most 4 GiB).
   */
  static create(capacity: number): Float32Arena | undefined {
    const mod = kernelModule();
    if (!mod) return undefined;
    try {
      return new Float32Arena(mod, capacity);
    } catch {
      return undefined;
    }
  }

  /** The arena whose slab `w` is, if any. */
  static of(w: Float32Array): Float32Arena | undefined {
    return byBuffer.get(w.buffer as ArrayBuffer);
  }

  /**
   * Makes the slab `capacity` floats long with `scratch` floats free behind it (floats past the
   * old length are not zeroed: the caller zeroes what it adds).
   * @throws RangeError when the memory cannot grow that far.
   */
  reserve(capacity: number, scratch = 0): void {
    const need = Math.ceil((capacity * 4 + scratch * 4 + 16) / PAGE);
    const have = this.memory.buffer.byteLength / PAGE;
    if (need > have) {
      this.memory.grow(need - have);
      byBuffer.set(this.memory.buffer, this);
    }
    if (need > have || capacity !== this.slab.length) {
      this.slab = new Float32Array(this.memory.buffer, 0, capacity);
      this.onMove(this.slab);
    }
  }

  /**
   * `slab[off + j] += vals[j]` for `j < len`, and with `out`, `out[j]` = the new value: per
   * chunk of 16,384 values a copy in, one SIMD pass and a copy out, all within the core's cache. Returns false (and changes nothing) when the memory has no room for
   * the scratch values; the caller then runs its own loop.
   */
  addRun(off: number, len: number, vals: Float32Array, out?: Float32Array): boolean {
    const cap = this.slab.length;
    const at = (cap * 4 + 15) & ~15;
    try {
      this.reserve(cap, CHUNK + 4);
    } catch {
      return false;
    }
    // In chunks that stay in the core's cache: the copy in, the add and the copy out of the
    // values just added then cost cache bandwidth, and only the three streams the rule needs
    // (pushed values, slab, answer) come from memory. The answer is read from the slab itself,
    // not from a scratch copy: one store stream fewer in the kernel.
    const slab = this.slab;
    const vin = new Float32Array(this.memory.buffer, at, CHUNK);
    for (let o = 0; o < len; o += CHUNK) {
      const m = Math.min(CHUNK, len - o);
      vin.set(vals.subarray(o, o + m));
      this.k.add((off + o) * 4, at, m);
      if (out) out.set(slab.subarray(off + o, off + o + m), o);
    }
    return true;
  }
}
