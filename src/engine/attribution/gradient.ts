import { inputGradient, takeArray } from './score';
import type { AttributionMethod } from './types';

/** Saliency (Simonyan 2014): ∂f_c/∂x, shown as the max over channels of |∂f_c/∂x|. */
export const gradient: AttributionMethod = {
  id: 'gradient',
  title: 'Gradient',
  async run(ctx) {
    const data = takeArray(await inputGradient(ctx, ctx.input));
    return { data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false, params: {}, figures: {}, notes: [] };
  },
};
