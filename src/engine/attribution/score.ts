import * as tf from '@tensorflow/tfjs';
import { throwIfAborted } from '../../protocol/errors';
import type { ReluRule } from '../model/ir';
import type { AttributionContext, SampleContext } from './types';

/** The weights to run with when they are not the model's own (the sanity check). */
function otherWeights(ctx: SampleContext) {
  return ctx.weights === ctx.model.graph.weights ? undefined : ctx.weights;
}

/** Per-sample target scores of a batch, as numbers. */
export async function scores(ctx: AttributionContext, x: tf.Tensor): Promise<Float32Array> {
  const [logits] = await ctx.model.passes.forward(x as tf.Tensor4D, [ctx.model.graph.logitsName], otherWeights(ctx));
  try {
    return tf.tidy(() => {
      const s = ctx.target.kind === 'probability' ? tf.softmax(logits!) : logits!;
      return s.slice([0, ctx.target.classIndex], [-1, 1]).dataSync() as Float32Array;
    });
  } finally {
    logits!.dispose();
  }
}

/** ∂score/∂x for every sample of the batch x ([n, H, W, C]); the caller disposes it. */
export function inputGradient(ctx: SampleContext, x: tf.Tensor4D, rule: ReluRule = 'standard'): Promise<tf.Tensor4D> {
  return ctx.model.passes.inputGradient(x, ctx.target, rule, otherWeights(ctx));
}

/** Activations of a layer and ∂score/∂activations, for Grad-CAM style methods; the caller disposes them. */
export function layerGradient(ctx: AttributionContext, layer: string): Promise<{ activation: tf.Tensor; gradient: tf.Tensor }> {
  return ctx.model.passes.layerGradient(ctx.input, layer, ctx.target, otherWeights(ctx));
}

/**
 * A batch's duration, bounding cancel latency. On wasm not larger: a batch of 3 MobileNetV2 gradients costs ~10%
 * more per sample than one at a time (measured), so batching only pays on small models. ONNX Runtime gains 3–5% per
 * sample from batches of 4–5 over 2 on ResNet18 and MobileNetV2 (its per-run overhead), within a 0.2 s cancel latency.
 */
function targetBatchMs(ctx: SampleContext): number {
  return ctx.model.passes.backend === 'onnxruntime' ? 200 : 100;
}
const ACTIVATION_BUDGET_BYTES = 512 * 1024 * 1024;

/**
 * Sample indices 0 … total−1, claimed in contiguous ranges by whoever computes them: this thread's
 * batches and the lanes' (src/engine/lanes), each through its own SampleQueue over one shared buffer
 * (next sample, samples done, then who claimed each sample), so no thread waits for another to hand
 * out work. The samples of a lane that failed are claimed again here (reclaim).
 */
export class SampleQueue {
  readonly buffer: SharedArrayBuffer;
  private readonly counters: Int32Array;
  private readonly owners: Int32Array;
  private readonly redo: number[] = [];
  /** This thread's latest measured cost per sample. */
  msPerSample = 0;

  /** `owner`: 0 for the engine's thread, k for lane k; `buffer`: another queue's, to share its samples. */
  constructor(readonly total: number, readonly owner = 0, buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(4 * (2 + total));
    this.counters = new Int32Array(this.buffer, 0, 2);
    this.owners = new Int32Array(this.buffer, 8, total);
    if (!buffer) this.owners.fill(-1);
  }

  /** Samples computed so far, by anyone: progress. */
  get done(): number {
    return Math.min(this.total, Atomics.load(this.counters, 1));
  }

  get remaining(): number {
    return Math.max(0, this.total - Atomics.load(this.counters, 0)) + this.redo.length;
  }

  /** Claims up to `n` samples as [start, count], or undefined when none are left. */
  take(n: number): [number, number] | undefined {
    if (this.redo.length > 0) {
      const start = this.redo.shift()!;
      let count = 1;
      while (count < n && this.redo[0] === start + count) {
        this.redo.shift();
        count++;
      }
      return [start, count];
    }
    if (Atomics.load(this.counters, 0) >= this.total) return undefined;
    const start = Atomics.add(this.counters, 0, n);
    if (start >= this.total) return undefined;
    const count = Math.min(n, this.total - start);
    this.owners.fill(this.owner, start, start + count);
    return [start, count];
  }

  complete(count: number): void {
    Atomics.add(this.counters, 1, count);
  }

  /**
   * Makes this queue compute again every sample lane `owner` claimed (and any claim left unmarked).
   * Only once that lane has stopped: it must not claim more afterwards.
   */
  reclaim(owner: number): void {
    const claimed = Math.min(this.total, Atomics.load(this.counters, 0));
    for (let i = 0; i < claimed; i++) {
      const o = this.owners[i]!;
      if (o === owner || o === -1) {
        this.owners[i] = this.owner;
        this.redo.push(i);
      }
    }
    this.redo.sort((x, y) => x - y);
  }
}

/** A batch size whose time per sample exceeds the best size's by this factor ends the growth. */
const SLOWER = 1.15;

/**
 * Runs the samples of `source` (a count, or a queue shared with lanes) in batches: the batch size is
 * bounded by memory (activations of all layers for forward + backward) and by time, so cancellation is
 * seen within ~one batch. Between batches the event loop runs, which is where a cancel message arrives
 * and where lanes are handed their ranges.
 */
export async function inBatches(
  ctx: SampleContext,
  source: number | SampleQueue,
  label: string,
  work: (start: number, count: number) => Promise<void>,
): Promise<void> {
  const queue = typeof source === 'number' ? new SampleQueue(source) : source;
  const perSampleBytes = ctx.model.graph.nodes.reduce((s, n) => s + n.outputShape.reduce((a, b) => a * b, 1), 0) * 4 * 3;
  const memoryCap = Math.max(1, Math.floor(ACTIVATION_BUDGET_BYTES / Math.max(1, perSampleBytes)));
  const cap = Math.max(1, Math.min(ctx.params.maxBatch, memoryCap));
  let batch = 1;
  // Larger batches are not always cheaper per sample: ONNX Runtime's ResNet18 backward runs slower per
  // sample at batch 8 than at 1 on 2 cores (activations leave the cache). Growth stops at the first batch
  // size that measures slower per sample than the best so far, and the best size is kept.
  let best: { batch: number; msPerSample: number } | undefined;
  let settled = false;
  for (;;) {
    throwIfAborted(ctx.hooks.signal);
    const range = queue.take(batch);
    if (!range) break;
    const [start, count] = range;
    const t0 = performance.now();
    await work(start, count);
    const msPerSample = (performance.now() - t0) / count;
    queue.msPerSample = msPerSample;
    queue.complete(count);
    ctx.hooks.onProgress?.(queue.done / queue.total, `${label} ${queue.done}/${queue.total}`);
    if (!settled && count === batch) {
      if (best && count > best.batch && msPerSample > SLOWER * best.msPerSample) settled = true;
      else if (!best || msPerSample < best.msPerSample) best = { batch: count, msPerSample };
    }
    // At most double per step, so one fast batch cannot schedule a long uninterruptible one.
    const grown = Math.max(1, Math.min(cap, 2 * count, Math.floor(targetBatchMs(ctx) / Math.max(msPerSample, 1e-3))));
    batch = settled && best ? Math.min(best.batch, grown) : grown;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throwIfAborted(ctx.hooks.signal);
}

const inputCache = new WeakMap<tf.Tensor, Float32Array>();

/** The values of the explained input (one image, [H, W, C] flattened), read from the tensor once per input. */
export function inputValues(ctx: Pick<SampleContext, 'input'>): Float32Array {
  let values = inputCache.get(ctx.input);
  if (!values) inputCache.set(ctx.input, (values = Float32Array.from(ctx.input.dataSync() as Float32Array)));
  return values;
}

/** [count, H, W, C] for a batch of inputs shaped like the explained one. */
export function batchShape(ctx: Pick<SampleContext, 'input'>, count: number): [number, number, number, number] {
  const [, h, w, c] = ctx.input.shape;
  return [count, h, w, c];
}

/**
 * The values of the tensor `f` returns, computed in a tidy scope. Why not tf.tidy(() => toArray(...)):
 * tidy walks a returned typed array element by element looking for tensors (tfjs walkTensorContainer),
 * which cost ~30 ms (more under load, with the GC) for one 224×224×3 map, as much as half a backward pass.
 */
export function tidyArray(f: () => tf.Tensor): Float32Array {
  const t = tf.tidy(f);
  try {
    return toArray(t);
  } finally {
    t.dispose();
  }
}

export function toArray(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

/** The values of a tensor a pass returned, which is then disposed. */
export function takeArray(t: tf.Tensor): Float32Array {
  try {
    return toArray(t);
  } finally {
    t.dispose();
  }
}
