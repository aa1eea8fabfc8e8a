import { ruleCoverageNotes } from './ruleCoverage';
import { inputGradient, takeArray } from './score';
import type { AttributionMethod } from './types';

/** Deconvnet (Zeiler & Fergus 2014): every ReLU passes ReLU(dy), whatever its forward input was. */
export const deconvnet: AttributionMethod = {
  id: 'deconvnet',
  title: 'Deconvnet',
  async run(ctx) {
    const data = takeArray(await inputGradient(ctx, ctx.input, 'deconvnet'));
    return { data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false, params: {}, figures: {}, notes: ruleCoverageNotes(ctx.model.graph, 'deconvnet', 'Deconvnet') };
  },
};
