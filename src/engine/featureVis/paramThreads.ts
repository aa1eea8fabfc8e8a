/**
 * How the parameterisation's loops share the machine's cores. During the parameterisation ONNX Runtime is idle,
 * so a second core is free: a helper thread takes half of each large loop (paramKernels.ts) while the calling
 * thread runs the other half, and the caller blocks until both are done (Atomics on shared control words: an
 * event-loop message round trip per loop cost ~0.2 ms, as much as a small loop's half). Results are identical with or without the helper: each half is
 * the same code on its own range. `SERIAL` runs both halves here (one core, or no helper could start).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, Worker, type MessagePort, type Transferable } from 'node:worker_threads';
import { PARAM_KERNELS, type ParamKernel } from './paramKernels';
import { CONTROL } from './paramThreadControl';

/** The longest the caller waits for the helper's half before it gives up on the helper (a healthy half takes < 5 ms). */
const HELPER_TIMEOUT_MS = 10_000;

/** `zero`: the caller relies on zeros; `overwritten`: the caller writes every value before reading any. */
export type Fill = 'zero' | 'overwritten';

export interface Splitter {
  /**
   * Arrays both threads read and write (shared memory when a helper runs), for the current step: after the next
   * `recycle()` they may be handed out again.
   */
  alloc(length: number, fill?: Fill): Float32Array;
  alloc64(length: number, fill?: Fill): Float64Array;
  /** An array for the whole run (zeros). */
  keep(length: number): Float32Array;
  /** The arrays of the step before are free again (call when a step starts). */
  recycle(): void;
  /** Kernel `kind` with arguments `first` here and `second` on the helper; returns when both are done. */
  run<K extends ParamKernel>(kind: K, first: Parameters<typeof PARAM_KERNELS[K]>, second: Parameters<typeof PARAM_KERNELS[K]>): void;
}

const call = <K extends ParamKernel>(kind: K, args: Parameters<typeof PARAM_KERNELS[K]>): void => {
  (PARAM_KERNELS[kind] as (...a: unknown[]) => unknown)(...args);
};

export const SERIAL: Splitter = {
  alloc: (length) => new Float32Array(length),
  alloc64: (length) => new Float64Array(length),
  keep: (length) => new Float32Array(length),
  recycle: () => undefined,
  run: (kind, first, second) => {
    call(kind, first);
    call(kind, second);
  },
};

export class ThreadSplitter implements Splitter {
  private seq = 0;

  /** Resolves once the helper has loaded its kernels (rejects if it failed to). */
  readonly ready: Promise<void>;

  private constructor(private readonly worker: Worker, private readonly control: Int32Array, private readonly port: MessagePort) {
    worker.unref();
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the helper thread exited (code ${code})`)));
    });
    this.ready.catch(() => undefined);
  }

  /** A splitter with a helper thread, or undefined when the machine has one core or the helper cannot start. */
  static start(log?: (line: string) => void): ThreadSplitter | undefined {
    if (os.availableParallelism() < 2) return undefined;
    try {
      const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL.length));
      const { port1, port2 } = new MessageChannel();
      return new ThreadSplitter(helperWorker({ control, port: port2 }, [port2]), control, port1);
    } catch (err) {
      log?.(`the parameterisation runs on one thread: its helper thread did not start (${(err as Error).message})`);
      return undefined;
    }
  }

  private readonly pool32 = new BufferPool((n) => new Float32Array(new SharedArrayBuffer(n * 4)));
  private readonly pool64 = new BufferPool((n) => new Float64Array(new SharedArrayBuffer(n * 8)));

  alloc(length: number, fill: Fill = 'zero'): Float32Array {
    return this.pool32.take(length, fill);
  }

  alloc64(length: number, fill: Fill = 'zero'): Float64Array {
    return this.pool64.take(length, fill);
  }

  keep(length: number): Float32Array {
    return new Float32Array(new SharedArrayBuffer(length * 4));
  }

  recycle(): void {
    this.pool32.recycle();
    this.pool64.recycle();
  }

  run<K extends ParamKernel>(kind: K, first: Parameters<typeof PARAM_KERNELS[K]>, second: Parameters<typeof PARAM_KERNELS[K]>): void {
    const seq = ++this.seq;
    this.post({ kind, args: second, seq });
    call(kind, first);
    // The helper's half ends about when this one does: spin briefly before sleeping (a wake-up costs ~0.1 ms).
    const spinUntil = performance.now() + 1;
    while (Atomics.load(this.control, CONTROL.done) !== seq && performance.now() < spinUntil) { /* spin */ }
    const started = Date.now();
    for (let seen = Atomics.load(this.control, CONTROL.done); seen !== seq; seen = Atomics.load(this.control, CONTROL.done)) {
      if (Date.now() - started > HELPER_TIMEOUT_MS) throw new Error(`internal: the parameterisation's helper thread did not answer within ${HELPER_TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.control, CONTROL.done, seen, 100);
    }
    if (Atomics.load(this.control, CONTROL.failed) !== 0) throw new Error('internal: the parameterisation\'s helper thread failed (its error is in the log)');
  }

  async stop(): Promise<void> {
    this.post({ stop: true });
    this.port.close();
    await this.worker.terminate();
  }

  private post(job: unknown): void {
    this.port.postMessage(job);
    Atomics.add(this.control, CONTROL.posted, 1);
    Atomics.notify(this.control, CONTROL.posted);
  }
}

/** The bundled helper (dist/paramThread.js beside dist/worker.js and dist/cli.js), or the source through tsx (tests, bench). */
function helperWorker(workerData: object, transferList: Transferable[]): Worker {
  const bundled = path.join(__dirname, 'paramThread.js');
  if (fs.existsSync(bundled)) return new Worker(bundled, { workerData, transferList });
  const source = path.join(__dirname, 'paramThreadMain.ts');
  if (fs.existsSync(source)) return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true, workerData, transferList });
  throw new Error(`neither ${bundled} nor ${source} exists`);
}

/**
 * Shared arrays reused from step to step by length: a step allocates the same sizes again, and a fresh shared
 * buffer costs a zeroed allocation outside the heap each time (~0.4 ms of a step).
 */
class BufferPool<T extends Float32Array | Float64Array> {
  private readonly free = new Map<number, T[]>();
  private taken: T[] = [];

  constructor(private readonly make: (length: number) => T) {}

  take(length: number, fill: Fill): T {
    const reused = this.free.get(length)?.pop();
    if (reused && fill === 'zero') reused.fill(0);
    const array = reused ?? this.make(length);
    this.taken.push(array);
    return array;
  }

  recycle(): void {
    for (const array of this.taken) {
      const list = this.free.get(array.length);
      if (list) list.push(array);
      else this.free.set(array.length, [array]);
    }
    this.taken = [];
  }
}

/** [0, n) in two halves: the first (this thread's) and the second (the helper's). */
export function halves(n: number): [[number, number], [number, number]] {
  const mid = Math.ceil(n / 2);
  return [[0, mid], [mid, n]];
}
