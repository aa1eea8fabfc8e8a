import * as tf from '@tensorflow/tfjs';
import type { WeightStore } from './weightStore';

export interface BatchNormWeights { gamma?: string; beta?: string; mean: string; variance: string; epsilon: number }

/** Inference-mode batch norm as y = x · scale + offset, computed once per weight store. */
export function batchNormAffine(store: WeightStore, key: string, w: BatchNormWeights): { scale: tf.Tensor; offset: tf.Tensor } {
  const scale = store.derived(`${key}#scale`, () => {
    const inv = tf.rsqrt(tf.add(store.get(w.variance), w.epsilon));
    return w.gamma ? tf.mul(inv, store.get(w.gamma)) : inv;
  });
  const offset = store.derived(`${key}#offset`, () => {
    const shifted = tf.neg(tf.mul(store.get(w.mean), scale));
    return w.beta ? tf.add(shifted, store.get(w.beta)) : shifted;
  });
  return { scale, offset };
}
