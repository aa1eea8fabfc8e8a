import * as tf from '@tensorflow/tfjs';
import { layerGradient, toArray } from './score';
import { upsample } from './upsample';
import type { AttributionContext, AttributionMethod } from './types';

/** α_k = mean over positions of ∂f_c/∂A_k; map = ReLU(Σ_k α_k A_k) (Selvaraju 2017), upsampled bilinearly. */
export function gradcamMaps(ctx: AttributionContext): { low: tf.Tensor2D; full: tf.Tensor2D } {
  const { activation, gradient } = layerGradient(ctx, ctx.layer);
  const alpha = gradient.mean([1, 2]).squeeze([0]);
  const low = tf.relu(tf.sum(tf.mul(activation.squeeze([0]), alpha), -1)) as tf.Tensor2D;
  return { low, full: upsample(low, ctx.input.shape[1], ctx.input.shape[2]) };
}

export const gradcam: AttributionMethod = {
  id: 'gradcam',
  title: 'Grad-CAM',
  async run(ctx) {
    const { low, lowShape, full } = tf.tidy(() => {
      const maps = gradcamMaps(ctx);
      return { low: toArray(maps.low), lowShape: maps.low.shape, full: toArray(maps.full) };
    });
    return {
      data: full, shape: ctx.input.shape.slice(1, 3), lowres: { data: low, shape: lowShape }, display: 'sum', signed: false,
      params: { layer: ctx.layer, relu: true }, figures: {},
      notes: ['ReLU applied to the weighted sum, as in Selvaraju et al. (Captum omits it by default)'], layer: ctx.layer,
    };
  },
};
