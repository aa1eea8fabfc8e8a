import * as tf from '@tensorflow/tfjs';
import { throwIfAborted } from '../errors';
import { gradients, runGraph } from '../model/executor';
import type { ReluRule } from '../model/ir';
import type { AttributionContext } from './types';

/** Per-sample target scores of a batch, as numbers. */
export function scores(ctx: AttributionContext, x: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const [logits] = runGraph(ctx.model.graph, x, { outputs: [ctx.model.graph.logitsName], weights: ctx.weights });
    const s = ctx.target.kind === 'probability' ? tf.softmax(logits!) : logits!;
    return s.slice([0, ctx.target.classIndex], [-1, 1]).dataSync() as Float32Array;
  });
}

/** d score / d logits per sample: one-hot for the logit, p_c (onehot − p) for the probability. */
function seed(ctx: AttributionContext, logits: tf.Tensor): tf.Tensor {
  const onehot = tf.oneHot(tf.fill([logits.shape[0]!], ctx.target.classIndex, 'int32'), logits.shape[1]!).toFloat();
  if (ctx.target.kind === 'logit') return onehot;
  const p = tf.softmax(logits);
  return tf.mul(p.slice([0, ctx.target.classIndex], [-1, 1]), tf.sub(onehot, p));
}

/** ∂score/∂x for every sample of the batch x ([n, H, W, C]). */
export function inputGradient(ctx: AttributionContext, x: tf.Tensor4D, rule: ReluRule = 'standard'): tf.Tensor4D {
  const graph = ctx.model.graph;
  return gradients(graph, x, {
    outputs: [graph.logitsName], wrt: graph.inputName, rule, weights: ctx.weights, seed: (logits) => seed(ctx, logits),
  }).gradient as tf.Tensor4D;
}

/** Activations of a layer and ∂score/∂activations, for Grad-CAM style methods. */
export function layerGradient(ctx: AttributionContext, layer: string): { activation: tf.Tensor4D; gradient: tf.Tensor4D } {
  const graph = ctx.model.graph;
  const { values, gradient } = gradients(graph, ctx.input, {
    outputs: [graph.logitsName], wrt: layer, weights: ctx.weights, seed: (logits) => seed(ctx, logits),
  });
  return { activation: values.get(layer) as tf.Tensor4D, gradient: gradient as tf.Tensor4D };
}

/**
 * A batch's duration, bounding cancel latency. Not larger: on wasm a batch of 3 MobileNetV2 gradients
 * costs ~10% more per sample than one at a time (measured), so batching only pays on small models.
 */
const TARGET_BATCH_MS = 100;
const ACTIVATION_BUDGET_BYTES = 512 * 1024 * 1024;

/**
 * Runs `total` samples in batches: the batch size is bounded by memory (activations of all layers for
 * forward + backward) and by time, so cancellation is seen within ~one batch. Between batches the event
 * loop runs, which is where a cancel message arrives.
 */
export async function inBatches(
  ctx: AttributionContext,
  total: number,
  label: string,
  work: (start: number, count: number) => void,
): Promise<void> {
  const perSampleBytes = ctx.model.graph.nodes.reduce((s, n) => s + n.outputShape.reduce((a, b) => a * b, 1), 0) * 4 * 3;
  const memoryCap = Math.max(1, Math.floor(ACTIVATION_BUDGET_BYTES / Math.max(1, perSampleBytes)));
  const cap = Math.max(1, Math.min(ctx.params.maxBatch, memoryCap));
  let batch = 1;
  for (let start = 0; start < total;) {
    throwIfAborted(ctx.hooks.signal);
    const count = Math.min(batch, total - start);
    const t0 = performance.now();
    work(start, count);
    const msPerSample = (performance.now() - t0) / count;
    start += count;
    ctx.hooks.onProgress?.(start / total, `${label} ${start}/${total}`);
    // At most double per step, so one fast batch cannot schedule a long uninterruptible one.
    batch = Math.max(1, Math.min(cap, 2 * count, Math.floor(TARGET_BATCH_MS / Math.max(msPerSample, 1e-3))));
    await new Promise((resolve) => setImmediate(resolve));
  }
  throwIfAborted(ctx.hooks.signal);
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

/**
 * Σ_b weights[b] · g[b] over the batch axis, as one [1, B] × [B, N] product: wasm's Sum over axis 0
 * transposes the batch first (measured 3.4 ms against 0.7 ms for a 3 × 224×224×3 batch).
 */
export function batchSum(g: tf.Tensor, weights?: number[]): tf.Tensor {
  const [b, ...shape] = g.shape;
  const w = tf.tensor2d(weights ?? new Array<number>(b!).fill(1), [1, b!]);
  return tf.matMul(w, g.reshape([b!, -1])).reshape(shape);
}

export function toArray(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}
