import * as tf from '@tensorflow/tfjs';
import { gradcamMaps } from './gradcam';
import { inputGradient, tidyArray } from './score';
import type { AttributionMethod } from './types';

/** Guided Grad-CAM: guided backprop ⊙ upsampled Grad-CAM, per channel. */
export const guidedGradcam: AttributionMethod = {
  id: 'guided-gradcam',
  title: 'Guided Grad-CAM',
  async run(ctx) {
    const data = tidyArray(() => {
      const guided = inputGradient(ctx, ctx.input, 'guided');
      return tf.mul(guided, gradcamMaps(ctx).full.expandDims(0).expandDims(-1));
    });
    return {
      data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false, params: { layer: ctx.layer },
      figures: {}, notes: [], layer: ctx.layer,
    };
  },
};
