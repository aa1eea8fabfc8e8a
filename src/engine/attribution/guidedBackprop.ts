import { ruleCoverageNotes } from './ruleCoverage';
import { inputGradient, takeArray } from './score';
import type { AttributionMethod } from './types';

const NOTE = 'Guided backprop barely depends on the top layers\' weights (Adebayo et al. 2018): read it as an edge map, not as evidence for the class';

/** Guided backpropagation (Springenberg 2015): every ReLU passes dy · [x > 0] · [dy > 0]. */
export const guidedBackprop: AttributionMethod = {
  id: 'guided-backprop',
  title: 'Guided backprop',
  async run(ctx) {
    const data = takeArray(await inputGradient(ctx, ctx.input, 'guided'));
    return { data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false, params: {}, figures: {}, notes: [NOTE, ...ruleCoverageNotes(ctx.model.graph, 'guided', 'Guided backprop')] };
  },
};
