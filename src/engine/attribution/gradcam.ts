import * as tf from '@tensorflow/tfjs';
import { layerGradient, takeArray } from './score';
import { upsample } from './upsample';
import type { AttributionContext, AttributionMethod } from './types';

/** α_k = mean over positions of ∂f_c/∂A_k; map = ReLU(Σ_k α_k A_k) (Selvaraju 2017), upsampled bilinearly. */
export async function gradcamMaps(ctx: AttributionContext): Promise<{ low: tf.Tensor2D; full: tf.Tensor2D }> {
  const { activation, gradient } = await layerGradient(ctx, ctx.layer);
  try {
    return tf.tidy(() => {
      const alpha = gradient.mean([1, 2]).squeeze([0]);
      const low = tf.relu(tf.sum(tf.mul(activation.squeeze([0]), alpha), -1)) as tf.Tensor2D;
      return { low, full: upsample(low, ctx.input.shape[1], ctx.input.shape[2]) };
    });
  } finally {
    tf.dispose([activation, gradient]);
  }
}

export const gradcam: AttributionMethod = {
  id: 'gradcam',
  title: 'Grad-CAM',
  async run(ctx) {
    const maps = await gradcamMaps(ctx);
    const lowShape = maps.low.shape;
    const low = takeArray(maps.low);
    const full = takeArray(maps.full);
    return {
      data: full, shape: ctx.input.shape.slice(1, 3), lowres: { data: low, shape: lowShape }, display: 'sum', signed: false,
      params: { layer: ctx.layer, relu: true }, figures: {},
      notes: ['ReLU applied to the weighted sum, as in Selvaraju et al. (Captum omits it by default)'], layer: ctx.layer,
    };
  },
};
