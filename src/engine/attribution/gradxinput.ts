import * as tf from '@tensorflow/tfjs';
import { inputGradient, tidyArray } from './score';
import type { AttributionMethod } from './types';

/** Gradient × input: x ⊙ ∂f_c/∂x, signed, summed over channels for display. */
export const gradxinput: AttributionMethod = {
  id: 'gradxinput',
  title: 'Gradient × input',
  async run(ctx) {
    const g = await inputGradient(ctx, ctx.input);
    const data = tidyArray(() => tf.mul(ctx.input, g));
    g.dispose();
    return { data, shape: ctx.input.shape.slice(1), display: 'sum', signed: true, params: {}, figures: {}, notes: [] };
  },
};
