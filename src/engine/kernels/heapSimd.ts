import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * A small WebAssembly module that runs on the wasm backend's own memory, for the two loops of Loupe's
 * backward pass that tfjs has no single op for. Why not JS loops over the heap views: on this machine
 * they cost 3–10 ns per element (data-dependent branches), while one SIMD pass costs under 1 ns, about
 * as much as two of the five tfjs ops a ReLU6 backward mask took.
 *
 * The module is assembled here from its instructions (no build step, no binary blob); what each
 * function computes is written next to it, and test/backwardKernels.test.ts checks both against
 * independent oracles.
 */
export interface HeapSimd {
  /**
   * For the n4 bytes (a multiple of 16) at dy, y, out:
   * slope = y > 0 ? (y ≥ high ? 0 : 1) : y ≤ 0 ? low : NaN;  out = dy · slope [· step(dy)]
   * where step(dy) = dy > 0 ? 1 : dy ≤ 0 ? 0 : NaN, applied when guided ≠ 0. high = NaN means no cap.
   */
  reluBackward(dy: number, y: number, out: number, n4: number, low: number, high: number, guided: number): void;
  /** rows × cols blocks of `chunk` bytes: src is dense (row stride cols·chunk), dst strided. */
  copy2d(src: number, dst: number, rows: number, cols: number, chunk: number, dstRowStride: number, dstColStride: number): void;
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions used below (WebAssembly core 2.0 + fixed-width SIMD + bulk memory).
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const simd = (op: number) => [0xfd, ...uleb(op)];
const mem = (align: number) => [...uleb(align), ...uleb(0)];
const v128load = [...simd(0x00), ...mem(0)];
const v128store = [...simd(0x0b), ...mem(0)];
const f32x4 = (value: number): number[] => {
  const b = new Uint8Array(16);
  const view = new DataView(b.buffer);
  for (let k = 0; k < 4; k++) view.setFloat32(4 * k, value, true);
  return [...simd(0x0c), ...b];
};
const splat = simd(0x13);
const bitselect = simd(0x52); // (a, b, mask) → a where mask bits are 1, else b
const gt = simd(0x44);
const le = simd(0x45);
const ge = simd(0x46);
const mul = simd(0xe6);
const memoryCopy = [0xfc, ...uleb(10), 0x00, 0x00];
const [block, loop, ifVoid, end, br, brIf] = [[0x02, 0x40], [0x03, 0x40], [0x04, 0x40], [0x0b], 0x0c, 0x0d];
const i32add = 0x6a;
const i32geu = 0x4f;

function reluBackwardBody(): number[] {
  // params 0 dy, 1 y, 2 out, 3 n4, 4 low, 5 high, 6 guided; locals 7 i; 8 low4, 9 high4, 10 d, 11 v, 12 s
  const [dy, y, out, n4, low, high, guided, i, low4, high4, d, v, s] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const ZERO = f32x4(0);
  const ONE = f32x4(1);
  const NAN = f32x4(Number.NaN);
  return [
    ...vec([[1, I32], [5, V128]]),
    ...get(low), ...splat, ...set(low4),
    ...get(high), ...splat, ...set(high4),
    ...block, ...loop,
    ...get(i), ...get(n4), i32geu, brIf, 1,
    ...get(y), ...get(i), i32add, ...v128load, ...set(v),
    ...get(dy), ...get(i), i32add, ...v128load, ...set(d),
    // s = v ≥ high ? 0 : 1; s = v > 0 ? s : NaN; s = v ≤ 0 ? low : s
    ...ZERO, ...ONE, ...get(v), ...get(high4), ...ge, ...bitselect, ...set(s),
    ...get(s), ...NAN, ...get(v), ...ZERO, ...gt, ...bitselect, ...set(s),
    ...get(low4), ...get(s), ...get(v), ...ZERO, ...le, ...bitselect, ...set(s),
    // s = dy · s
    ...get(d), ...get(s), ...mul, ...set(s),
    ...get(guided), ...ifVoid,
    // s = s · (d > 0 ? 1 : d ≤ 0 ? 0 : NaN)
    ...get(s), ...ONE, ...ZERO, ...NAN, ...get(d), ...ZERO, ...le, ...bitselect, ...get(d), ...ZERO, ...gt, ...bitselect, ...mul, ...set(s),
    ...end,
    ...get(out), ...get(i), i32add, ...get(s), ...v128store,
    ...get(i), ...i32c(16), i32add, ...set(i),
    br, 0,
    ...end, ...end,
    ...end,
  ];
}

function copy2dBody(): number[] {
  // params 0 src, 1 dst, 2 rows, 3 cols, 4 chunk, 5 dstRowStride, 6 dstColStride; locals 7 r, 8 j, 9 d
  const [src, dst, rows, cols, chunk, dstRowStride, dstColStride, r, j, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  return [
    ...vec([[3, I32]]),
    ...block, ...loop,
    ...get(r), ...get(rows), i32geu, brIf, 1,
    ...get(dst), ...set(d), ...i32c(0), ...set(j),
    ...block, ...loop,
    ...get(j), ...get(cols), i32geu, brIf, 1,
    ...get(d), ...get(src), ...get(chunk), ...memoryCopy,
    ...get(src), ...get(chunk), i32add, ...set(src),
    ...get(d), ...get(dstColStride), i32add, ...set(d),
    ...get(j), ...i32c(1), i32add, ...set(j),
    br, 0,
    ...end, ...end,
    ...get(dst), ...get(dstRowStride), i32add, ...set(dst),
    ...get(r), ...i32c(1), i32add, ...set(r),
    br, 0,
    ...end, ...end,
    ...end,
  ];
}

function moduleBytes(shared: boolean, maxPages: number): Uint8Array {
  const code = (body: number[]) => [...uleb(body.length), ...body];
  const memoryLimits = shared ? [0x03, ...uleb(0), ...uleb(maxPages)] : [0x00, ...uleb(0)];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([
      [0x60, ...vec([[I32], [I32], [I32], [I32], [F32], [F32], [I32]]), ...vec([])],
      [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])],
    ])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...memoryLimits]])),
    ...section(3, vec([uleb(0), uleb(1)])),
    ...section(7, vec([[...name('reluBackward'), 0x00, 0], [...name('copy2d'), 0x00, 1]])),
    ...section(10, vec([code(reluBackwardBody()), code(copy2dBody())])),
  ]);
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory { readonly buffer: ArrayBufferLike }
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const cache = new WeakMap<WasmMemory, HeapSimd | null>();
let enabled = true;

/** Tests switch the module off to check the JS loops the kernels fall back to; returns the previous setting. */
export function setHeapSimdEnabled(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

let unavailable: string | undefined;
let used = false;

/** Why the fast path is off ('on' when it ran, 'not used yet' before any wasm kernel needed it): for logs and the bench. */
export function heapSimdStatus(): string {
  if (unavailable) return `off: ${unavailable}`;
  return used ? 'on' : 'not used yet';
}

/** Said once per process: the kernels stay correct without the module, but about 10× slower. */
function fallBack(reason: string): null {
  if (!unavailable) {
    unavailable = reason;
    console.warn(`loupe: the SIMD fast path of the ReLU-backward and phase-interleave kernels is off (${reason}); their JavaScript loops run instead, about 10× slower`);
  }
  return null;
}

/** The module bound to the backend's memory, or null where it cannot run (then callers loop in JS). */
export function heapSimd(backend: BackendWasm): HeapSimd | null {
  if (!enabled) return null;
  // These are tfjs-backend-wasm's private internals: a release that renames them must be noticed.
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!(memory instanceof WASM.Memory)) return fallBack('tfjs-backend-wasm no longer exposes its heap memory as wasm.asm.memory');
  let m = cache.get(memory);
  if (m === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const instance = new WASM.Instance(new WASM.Module(moduleBytes(shared, 65536)), { env: { memory } });
      m = instance.exports as HeapSimd;
    } catch (error) {
      m = null;
      fallBack(`the module could not be instantiated on the backend's memory: ${error instanceof Error ? error.message : String(error)}`);
    }
    cache.set(memory, m);
  }
  if (m) used = true;
  return m;
}

/** Pointer (byte offset in the wasm heap) of a tensor's data. */
export function heapOffset(backend: BackendWasm, info: { dataId: object }): number {
  return (backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(info.dataId).memoryOffset;
}
