import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../protocol/errors';
import { camHead } from '../model/camHead';
import { toArray } from './score';
import { upsample } from './upsample';
import type { AttributionMethod } from './types';

/** CAM (Zhou 2016): Σ_k w_{k,c} A_k for a conv map A feeding global average pooling and a dense layer. */
export const cam: AttributionMethod = {
  id: 'cam',
  title: 'CAM',
  async run(ctx) {
    const head = camHead(ctx.model.graph);
    if (!head.ok) {
      throw new LoupeError('BAD_REQUEST', `CAM does not apply to this model: ${head.reason}`, ctx.model.description.path,
        'use Grad-CAM, which works at any convolutional layer');
    }
    const [, h, w] = ctx.input.shape;
    const [a] = await ctx.model.passes.forward(ctx.input, [head.layer], ctx.weights === ctx.model.graph.weights ? undefined : ctx.weights);
    const { low, lowShape, full } = tf.tidy(() => {
      const kernel = ctx.weights.get(head.kernel) as tf.Tensor2D;
      const wc = kernel.slice([0, ctx.target.classIndex], [-1, 1]).reshape([-1]);
      const map = tf.sum(tf.mul(a!.squeeze([0]), wc), -1) as tf.Tensor2D;
      return { low: toArray(map), lowShape: map.shape, full: toArray(upsample(map, h, w)) };
    });
    a!.dispose();
    const notes = ctx.target.kind === 'probability' ? ['CAM is defined on the logit; the probability target does not change it'] : [];
    return {
      data: full, shape: [h, w], lowres: { data: low, shape: lowShape }, display: 'sum', signed: true,
      params: { layer: head.layer, dense: head.dense }, figures: {}, notes, layer: head.layer,
    };
  },
};
