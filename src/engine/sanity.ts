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

/** Spearman rank correlation of two maps of equal length. */
export function spearman(a: Float32Array, b: Float32Array): number {
  const r = sampleRankCorrelation(Array.from(a), Array.from(b));
  return Number.isFinite(r) ? r : 0;
}
