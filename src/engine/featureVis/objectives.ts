/**
 * Lucid's objectives (lucid/optvis/objectives.py) as functions of one layer's activations [B, H, W, C]
 * (dense layers as [B, 1, 1, C]). The model's backward pass is seeded with their gradient with respect to
 * the activations, computed here with TF.js autodiff on the activations alone — the seed of the Gram-matrix
 * diversity penalty depends on the activations, so it is computed between the forward and the backward.
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureVisTerm } from '../../protocol/featureVis';
import { LoupeError } from '../../protocol/errors';

/** The objective's terms on one layer, compiled against the layer's shape. */
export interface LayerObjective {
  layer: string;
  /** [B, H, W, C] as evaluated. */
  shape: [number, number, number, number];
  terms: FeatureVisTerm[];
  /** Weighted sum of the terms, and each term's unweighted value. */
  evaluate(acts: Float32Array): { value: number; terms: number[] };
  /**
   * The seed when it does not depend on the activations (every term linear in them: channel, neuron, dot direction),
   * so the model's forward and backward can run as one pass; the value is then ⟨seed, acts⟩.
   */
  fixedSeed?: Float32Array;
  /** d value / d acts, and the value, in one pass. */
  seed(acts: Float32Array): { seed: Float32Array; value: number; terms: number[] };
}

function bad(message: string, hint?: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message, undefined, hint);
}

/** Spatial shape of a layer as [H, W, C] (a dense layer of C units as [1, 1, C]). */
export function layerGrid(outputShape: readonly number[], layer: string): [number, number, number] {
  if (outputShape.length === 3) return outputShape as [number, number, number];
  if (outputShape.length === 1) return [1, 1, outputShape[0]!];
  throw bad(`layer '${layer}' has output shape [${outputShape.join(', ')}]; feature visualisation needs an H×W×C or a flat layer`);
}

function checkIndex(value: unknown, size: number, what: string, layer: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= size) {
    throw bad(`${what} ${JSON.stringify(value)} is out of range for layer '${layer}'`, `use 0–${size - 1}`);
  }
  return value as number;
}

/** One term as a TF.js function of the activations. */
function termFunction(term: FeatureVisTerm, shape: [number, number, number, number]): (a: tf.Tensor4D) => tf.Scalar {
  const [B, H, W, C] = shape;
  const batch = 'batch' in term && term.batch !== undefined ? checkIndex(term.batch, B, 'batch index', term.layer) : undefined;
  const images = (a: tf.Tensor4D): tf.Tensor4D => (batch === undefined ? a : a.slice([batch, 0, 0, 0], [1, -1, -1, -1]));
  switch (term.kind) {
    case 'channel': {
      const unit = checkIndex(term.unit, C, 'unit', term.layer);
      return (a) => images(a).slice([0, 0, 0, unit], [-1, -1, -1, 1]).mean() as tf.Scalar;
    }
    case 'neuron': {
      const unit = checkIndex(term.unit, C, 'unit', term.layer);
      const y = term.y === undefined ? Math.floor(H / 2) : checkIndex(term.y, H, 'row', term.layer);
      const x = term.x === undefined ? Math.floor(W / 2) : checkIndex(term.x, W, 'column', term.layer);
      return (a) => images(a).slice([0, y, x, unit], [-1, 1, 1, 1]).sum() as tf.Scalar;
    }
    case 'direction': {
      if (!Array.isArray(term.vector) || term.vector.length !== C || !term.vector.every((v) => Number.isFinite(v))) {
        throw bad(`a direction on layer '${term.layer}' needs ${C} finite numbers (got ${Array.isArray(term.vector) ? term.vector.length : typeof term.vector})`);
      }
      const similarity = term.similarity ?? 'dot';
      if (similarity !== 'dot' && similarity !== 'cosine') throw bad(`similarity must be 'dot' or 'cosine' (got '${String(similarity)}')`);
      const at = term.y !== undefined || term.x !== undefined
        ? [term.y === undefined ? Math.floor(H / 2) : checkIndex(term.y, H, 'row', term.layer),
          term.x === undefined ? Math.floor(W / 2) : checkIndex(term.x, W, 'column', term.layer)] as const
        : undefined;
      const vec = Float32Array.from(term.vector);
      const vnorm = Math.hypot(...term.vector);
      return (a) => {
        let acts = images(a);
        if (at) acts = acts.slice([0, at[0], at[1], 0], [-1, 1, 1, -1]);
        const v = tf.tensor1d(vec);
        const dot = tf.sum(tf.mul(acts, v), -1);
        if (similarity === 'dot') return dot.mean() as tf.Scalar;
        // torch.nn.CosineSimilarity: x·y / max(‖x‖·‖y‖, 1e-8)
        const norms = tf.maximum(tf.mul(tf.norm(acts, 'euclidean', -1), vnorm), 1e-8);
        return tf.div(dot, norms).mean() as tf.Scalar;
      };
    }
    case 'diversity': {
      if (B < 2) throw bad('the diversity term needs a batch of at least 2 images', 'set params.batch (Lucid uses 4)');
      return (a) => {
        const flat = a.reshape([B, H * W, C]);
        const grams = tf.matMul(flat, flat, true, false); // [B, C, C]
        // tf.nn.l2_normalize over both axes, epsilon 1e-10 on the squared norm
        const norms = tf.sqrt(tf.maximum(tf.sum(tf.square(grams), [1, 2], true), 1e-10));
        const g = tf.div(grams, norms).reshape([B, C * C]);
        // Σ_{i≠j} ⟨Ĝ_i, Ĝ_j⟩ = ‖Σ_i Ĝ_i‖² − Σ_i ‖Ĝ_i‖²
        const total = g.sum(0);
        return tf.div(tf.sub(tf.sum(tf.square(total)), tf.sum(tf.square(g))), B) as tf.Scalar;
      };
    }
    default:
      throw bad(`unknown objective term kind '${(term as { kind: unknown }).kind}'`, 'use channel, neuron, direction or diversity');
  }
}

/** Groups the terms by layer and compiles each group; `shapeOf` gives a layer's [H, W, C] (or throws for unknown layers). */
export function compileObjective(terms: readonly FeatureVisTerm[], batch: number,
  shapeOf: (layer: string) => [number, number, number]): LayerObjective[] {
  if (!Array.isArray(terms) || terms.length === 0) throw bad('the objective needs at least one term');
  const byLayer = new Map<string, FeatureVisTerm[]>();
  for (const t of terms) {
    if (typeof t !== 'object' || t === null || typeof t.layer !== 'string') throw bad('every objective term needs a layer name');
    if (t.weight !== undefined && !Number.isFinite(t.weight)) throw bad(`term weight must be a finite number (got ${String(t.weight)})`);
    byLayer.set(t.layer, [...(byLayer.get(t.layer) ?? []), t]);
  }
  return [...byLayer].map(([layer, group]) => {
    const [H, W, C] = shapeOf(layer);
    const shape: [number, number, number, number] = [batch, H, W, C];
    const fns = group.map((t) => termFunction(t, shape));
    const weights = group.map((t) => t.weight ?? 1);
    const parts = (a: tf.Tensor4D): tf.Scalar[] => fns.map((f) => f(a));
    const total = (a: tf.Tensor4D): tf.Scalar => parts(a).reduce((s, p, i) => tf.add(s, tf.mul(p, weights[i]!)), tf.scalar(0)) as tf.Scalar;
    const values = (a: tf.Tensor4D): number[] => parts(a).map((p) => p.dataSync()[0]!);
    // Linear and without offset, so value = ⟨seed, acts⟩ (the gradient taken at zero activations).
    const linear = group.every((t) => t.kind === 'channel' || t.kind === 'neuron' || (t.kind === 'direction' && (t.similarity ?? 'dot') === 'dot'));
    const fixedSeed = linear
      ? tf.tidy(() => Float32Array.from(tf.grad((a: tf.Tensor) => total(a as tf.Tensor4D))(tf.zeros(shape)).dataSync()))
      : undefined;
    return {
      layer, shape, terms: group, ...(fixedSeed ? { fixedSeed } : {}),
      evaluate(acts) {
        return tf.tidy(() => {
          const a = tf.tensor4d(acts, shape);
          const termValues = values(a);
          return { value: termValues.reduce((s, v, i) => s + weights[i]! * v, 0), terms: termValues };
        });
      },
      seed(acts) {
        return tf.tidy(() => {
          const a = tf.tensor4d(acts, shape);
          const { value, grad } = tf.valueAndGrad(total)(a);
          const termValues = values(a);
          return { seed: Float32Array.from(grad.dataSync()), value: value.dataSync()[0]!, terms: termValues };
        });
      },
    };
  });
}
