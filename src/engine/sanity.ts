import * as tf from '@tensorflow/tfjs';
import { sampleRankCorrelation } from 'simple-statistics';
import type { IRGraph } from './model/ir';
import { drawSeed } from './params';
import type { WeightStore } from './model/weightStore';
import type { WeightsVariant } from './attribution/types';

const RANDOMISABLE = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);
const RANDOMISABLE_OPS = new Set(['conv', 'separableConv', 'dense']);

/**
 * Model-parameter randomisation test (Adebayo et al. 2018), first cascade steps: the top `count`
 * convolutional/dense layers get fresh Gaussian weights with the same per-tensor standard deviation.
 * A method whose map barely changes is not explaining what the model learned.
 */
export function randomizeTopLayers(graph: IRGraph, count: number, seed: number): { store: WeightStore; layers: string[]; variant: WeightsVariant } {
  const top = graph.nodes.filter((n) => (n.op ? RANDOMISABLE_OPS.has(n.op.op) : RANDOMISABLE.has(n.className)) && n.weightNames.length > 0)
    .slice(-count);
  const overrides = new Map<string, tf.Tensor>();
  let k = 0;
  for (const node of top) {
    for (const name of node.weightNames) {
      const original = graph.weights.get(name);
      const std = tf.tidy(() => Math.sqrt(tf.moments(original).variance.dataSync()[0]!));
      overrides.set(name, tf.randomNormal(original.shape, 0, std > 0 ? std : 0.05, 'float32', drawSeed(seed, ++k)));
    }
  }
  // Seeded draws: a lane given the variant rebuilds exactly this store from its own copy of the model.
  return { store: graph.weights.withOverrides(overrides), layers: top.map((n) => n.name), variant: { kind: 'randomized-top', layers: count, seed } };
}

/**
 * Spearman rank correlation of two maps of equal length; undefined when either map is constant (no
 * ranking exists, and 0 would read as a passed check).
 */
export function spearman(a: Float32Array, b: Float32Array): number | undefined {
  const r = sampleRankCorrelation(Array.from(a), Array.from(b));
  return Number.isFinite(r) ? r : undefined;
}

/** The sentence a map's notes carry about its sanity check; `original` tells which map was constant when ρ is undefined. */
export function sanityNote(layers: string[], rho: number | undefined, original: Float32Array): string {
  const what = `sanity check: weights of ${layers.join(', ')} re-initialised`;
  if (rho !== undefined) {
    return `${what}; Spearman rank correlation with the original map ${rho.toFixed(3)} (below 0.5 means the map depends on what those layers learned)`;
  }
  const flat = (m: Float32Array) => m.every((v) => v === m[0]);
  if (flat(original)) return `${what}; the map itself is constant, so no rank correlation exists: the check is undecided, not passed`;
  return `${what}; the randomised model's map is constant, so no rank correlation exists (the map did change with those weights)`;
}
