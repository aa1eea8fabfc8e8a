import * as tf from '@tensorflow/tfjs';
import { gradcamMaps } from './gradcam';
import { ruleCoverageNotes } from './ruleCoverage';
import { inputGradient, tidyArray } from './score';
import type { AttributionMethod } from './types';

/** Guided Grad-CAM: guided backprop ⊙ upsampled Grad-CAM, per channel. */
export const guidedGradcam: AttributionMethod = {
  id: 'guided-gradcam',
  title: 'Guided Grad-CAM',
  async run(ctx) {
    const guided = await inputGradient(ctx, ctx.input, 'guided');
    const maps = await gradcamMaps(ctx);
    const data = tidyArray(() => tf.mul(guided, maps.full.expandDims(0).expandDims(-1)));
    tf.dispose([guided, maps.low, maps.full]);
    return {
      data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false, params: { layer: ctx.layer },
      figures: {}, notes: ruleCoverageNotes(ctx.model.graph, 'guided', 'Guided Grad-CAM'), layer: ctx.layer,
    };
  },
};
