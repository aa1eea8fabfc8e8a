import * as tf from '@tensorflow/tfjs';
import { pixelToInput } from '../image/preprocess';
import { drawSeed } from '../params';
import { quadrature } from './quadrature';
import { batchSum, inBatches, inputGradient, scores, tidyArray } from './score';
import type { AttributionContext, AttributionMethod } from './types';

/**
 * Integrated Gradients (Sundararajan 2017): (x − x′) ⊙ ∫₀¹ ∂f/∂x(x′ + α(x − x′)) dα.
 * Reports the completeness error |Σ attr − (f(x) − f(x′))| / |f(x) − f(x′)|.
 */
export const integratedGradients: AttributionMethod = {
  id: 'ig',
  title: 'Integrated Gradients',
  async run(ctx) {
    const { steps, rule, baseline: kind } = ctx.params;
    const baseline = tf.keep(makeBaseline(ctx));
    const { alphas, weights } = quadrature(rule, steps);
    const difference = tf.keep(tf.sub(ctx.input, baseline));
    let acc = tf.keep(tf.zeros(ctx.input.shape.slice(1)));
    try {
      await inBatches(ctx, steps, 'Integrated Gradients', (start, count) => {
        const next = tf.tidy(() => {
          const a = tf.tensor(alphas.slice(start, start + count), [count, 1, 1, 1]);
          const path = tf.add(baseline, tf.mul(a, difference)) as tf.Tensor4D;
          return tf.add(acc, batchSum(inputGradient(ctx, path), weights.slice(start, start + count)));
        });
        acc.dispose();
        acc = tf.keep(next);
      });
      const data = tidyArray(() => tf.mul(difference, acc));
      const [fx, fb] = scores(ctx, tf.concat([ctx.input, baseline]));
      const delta = fx! - fb!;
      let sum = 0;
      for (const v of data) sum += v;
      const completenessError = Math.abs(sum - delta) / Math.max(Math.abs(delta), 1e-12);
      const notes = Math.abs(delta) < 1e-6 ? ['f(x) ≈ f(baseline): completeness is not informative'] : [];
      return {
        data, shape: ctx.input.shape.slice(1), display: 'sum', signed: true,
        params: { steps, rule, baseline: kind, seed: ctx.params.seed },
        figures: { completenessError, sumAttributions: sum, scoreInput: fx!, scoreBaseline: fb! },
        notes,
      };
    } finally {
      acc.dispose();
      difference.dispose();
      baseline.dispose();
    }
  },
};

/** black: the preprocessed black pixel; blurred: Gaussian blur σ = side/16 (Sturmfels 2020); uniform: noise over the input range. */
function makeBaseline(ctx: AttributionContext): tf.Tensor4D {
  const [, h, w, c] = ctx.input.shape;
  return tf.tidy(() => {
    if (ctx.params.baseline === 'black') {
      return tf.tensor(pixelToInput([0, 0, 0], ctx.preprocessing, c), [1, 1, 1, c]).tile([1, h, w, 1]) as tf.Tensor4D;
    }
    if (ctx.params.baseline === 'uniform') {
      const lo = pixelToInput([0, 0, 0], ctx.preprocessing, c);
      const hi = pixelToInput([255, 255, 255], ctx.preprocessing, c);
      const u = tf.randomUniform([1, h, w, c], 0, 1, 'float32', drawSeed(ctx.params.seed, 0));
      const low = tf.tensor(lo, [1, 1, 1, c]);
      return tf.add(low, tf.mul(u, tf.sub(tf.tensor(hi, [1, 1, 1, c]), low))) as tf.Tensor4D;
    }
    return gaussianBlur(ctx.input, Math.max(h, w) / 16);
  });
}

function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  const radius = Math.ceil(3 * sigma);
  const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, b) => a + b, 0);
  const k = taps.map((t) => t / total);
  const c = x.shape[3];
  // Reflect-free blur: normalise by the blurred ones so borders are not darkened.
  const blur = (t: tf.Tensor4D) => {
    const kh = tf.tensor(k, [k.length, 1, 1, 1]).tile([1, 1, t.shape[3], 1]) as tf.Tensor4D;
    const kw = tf.tensor(k, [1, k.length, 1, 1]).tile([1, 1, t.shape[3], 1]) as tf.Tensor4D;
    return tf.depthwiseConv2d(tf.depthwiseConv2d(t, kh, 1, 'same'), kw, 1, 'same');
  };
  const ones = tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
  return tf.div(blur(x), blur(ones).tile([1, 1, 1, c])) as tf.Tensor4D;
}
