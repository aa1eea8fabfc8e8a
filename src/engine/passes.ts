import * as tf from '@tensorflow/tfjs';
import type { BackendName, TargetKind } from '../protocol/types';
import { gradients, runGraph } from './model/executor';
import type { IRGraph, ReluRule } from './model/ir';
import type { WeightStore } from './model/weightStore';

export interface ClassTarget {
  classIndex: number;
  kind: TargetKind;
}

/**
 * The forward and backward passes every analysis is built from, for one model. Two implementations:
 * TF.js through Loupe's executor (tfjsPasses below) and ONNX Runtime through graphs Loupe generates
 * (backends/onnxruntime). Tensors in and out are TF.js tensors, NHWC; the caller disposes results.
 * `weights` runs with another weight store (the sanity check's), default the model's own.
 */
export interface Passes {
  /** What runs these passes. */
  readonly backend: BackendName;
  /** Why the passes are not the ones preferred (e.g. ONNX Runtime cannot express an op), when so. */
  readonly note?: string;
  forward(x: tf.Tensor4D, outputs: string[], weights?: WeightStore): Promise<tf.Tensor[]>;
  /** ∂ score / ∂ x per sample of the batch. */
  inputGradient(x: tf.Tensor4D, target: ClassTarget, rule: ReluRule, weights?: WeightStore): Promise<tf.Tensor4D>;
  /**
   * Σ_b w_b ∂score/∂x(x_b) and, with squares, Σ_b w_b (∂score/∂x(x_b))², shaped like one input. Plain arrays in and
   * out: SmoothGrad's and IG's batches are built in JS, and ONNX Runtime reads and writes them without a TF.js copy.
   */
  gradientSums(x: SampleBatch, target: ClassTarget, sampleWeights: number[], squares: boolean, weights?: WeightStore):
    Promise<{ sum: Float32Array; sumSq?: Float32Array }>;
  /** Activations of `layer` and ∂ score / ∂ activations. */
  layerGradient(x: tf.Tensor4D, layer: string, target: ClassTarget, weights?: WeightStore): Promise<{ activation: tf.Tensor; gradient: tf.Tensor }>;
  /** ∂ (Σ seed ⊙ value of `of`) / ∂ value of `wrt` (a layer, or the input). */
  seededGradient(x: tf.Tensor4D, of: string, seed: tf.Tensor, wrt: string, rule: ReluRule, weights?: WeightStore): Promise<tf.Tensor>;
  /**
   * Feature visualisation's step: the values of `of` and ∂(Σ seed ⊙ value of `of`)/∂x in one forward and backward.
   * A seed function reads the values (a diversity penalty's seed depends on them): TF.js calls it between its
   * forward and backward; ONNX Runtime runs a forward to `of` first, so a fixed seed is given as a tensor.
   */
  objectiveGradient(x: tf.Tensor4D, of: string, seed: ObjectiveSeed, rule: ReluRule): Promise<{ value: tf.Tensor; gradient: tf.Tensor4D }>;
  /** Frees what the passes hold besides the model (sessions). */
  dispose(): void;
  /** Frees what was built for other weights (the sanity check's store) once they are done with. */
  forgetWeights?(weights: WeightStore): void;
}

/** A batch of model inputs as values: `data` holds `shape` = [N, H, W, C]. */
export interface SampleBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** A backward pass's seed: fixed, or computed from the values it is seeded at. */
export type ObjectiveSeed = tf.Tensor | ((value: tf.Tensor) => tf.Tensor);

/** d score / d logits per sample: one-hot for the logit, p_c (onehot − p) for the probability. */
export function classSeed(target: ClassTarget, logits: tf.Tensor): tf.Tensor {
  const onehot = tf.oneHot(tf.fill([logits.shape[0]!], target.classIndex, 'int32'), logits.shape[1]!).toFloat();
  if (target.kind === 'logit') return onehot;
  const p = tf.softmax(logits);
  return tf.mul(p.slice([0, target.classIndex], [-1, 1]), tf.sub(onehot, p));
}

/** The passes on TF.js (wasm or cpu), through Loupe's executor and its hand-written backward rules. */
export function tfjsPasses(graph: IRGraph, backend: BackendName, note?: string): Passes {
  return {
    backend,
    ...(note ? { note } : {}),
    async forward(x, outputs, weights) {
      return tf.tidy(() => runGraph(graph, x, { outputs, ...(weights ? { weights } : {}) }));
    },
    async inputGradient(x, target, rule, weights) {
      return tf.tidy(() => gradients(graph, x, {
        outputs: [graph.logitsName], wrt: graph.inputName, rule, ...(weights ? { weights } : {}), seed: (l) => classSeed(target, l),
      }).gradient as tf.Tensor4D);
    },
    async gradientSums(batch, target, sampleWeights, squares, weights) {
      const sums = tf.tidy(() => {
        const x = tf.tensor4d(batch.data, batch.shape);
        const g = gradients(graph, x, {
          outputs: [graph.logitsName], wrt: graph.inputName, ...(weights ? { weights } : {}), seed: (l) => classSeed(target, l),
        }).gradient;
        const w = tf.tensor(sampleWeights, [sampleWeights.length, 1, 1, 1]);
        const weighted = tf.mul(g, w);
        return [batchSum(weighted), ...(squares ? [batchSum(tf.mul(weighted, g))] : [])];
      });
      try {
        const [sum, sumSq] = sums.map((t) => t.dataSync() as Float32Array);
        return { sum: sum!, ...(sumSq ? { sumSq } : {}) };
      } finally {
        tf.dispose(sums);
      }
    },
    async layerGradient(x, layer, target, weights) {
      return tf.tidy(() => {
        const { values, gradient } = gradients(graph, x, {
          outputs: [graph.logitsName], wrt: layer, ...(weights ? { weights } : {}), seed: (l) => classSeed(target, l),
        });
        return { activation: values.get(layer)!.clone(), gradient };
      });
    },
    async seededGradient(x, of, seed, wrt, rule, weights) {
      return tf.tidy(() => gradients(graph, x, { outputs: [of], wrt, rule, ...(weights ? { weights } : {}), seed: () => seed }).gradient);
    },
    async objectiveGradient(x, of, seed, rule) {
      return tf.tidy(() => {
        const { values, gradient } = gradients(graph, x, {
          outputs: [of], wrt: graph.inputName, rule, seed: (value) => (typeof seed === 'function' ? seed(value) : seed),
        });
        return { value: values.get(of)!.clone(), gradient: gradient as tf.Tensor4D };
      });
    },
    dispose() {},
  };
}

/**
 * Σ over the batch axis as one [1, B] × [B, N] product: wasm's Sum over axis 0 transposes the batch first
 * (measured 3.4 ms against 0.7 ms for a 3 × 224×224×3 batch).
 */
export function batchSum(g: tf.Tensor): tf.Tensor {
  const [b, ...shape] = g.shape;
  return tf.matMul(tf.ones([1, b!]), g.reshape([b!, -1])).reshape(shape);
}
