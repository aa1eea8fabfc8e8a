import * as tf from '@tensorflow/tfjs';
import { pixelToInput } from '../image/preprocess';
import { drawSeed } from '../params';
import { quadrature } from './quadrature';
import { gradientSums, type Sampler } from '../lanes/gradientSums';
import { batchShape, inputValues, scores, tidyArray } from './score';
import type { AttributionContext, AttributionMethod } from './types';

/**
 * Integrated Gradients (Sundararajan 2017): (x − x′) ⊙ ∫₀¹ ∂f/∂x(x′ + α(x − x′)) dα.
 * Reports the completeness error |Σ attr − (f(x) − f(x′))| / |f(x) − f(x′)|.
 */
/** Sample i: the point x′ + αᵢ(x − x′) of the straight path, weighted by its quadrature weight. */
export const straightPath: Sampler<{ baseline: Float32Array; alphas: number[]; weights: number[] }> = {
  kind: 'straight-path',
  batch(ctx, { baseline, alphas, weights }, start, count) {
    const input = inputValues(ctx);
    const size = input.length;
    const x = new Float32Array(count * size);
    // x′ + α(x − x′) rounded to float32 at each step, as TF.js's ops would (broadcasting ones cost ~1.5 ms per sample).
    const f = Math.fround;
    for (let i = 0; i < count; i++) {
      const a = f(alphas[start + i]!);
      for (let j = 0, o = i * size; j < size; j++) x[o + j] = baseline[j]! + f(a * f(input[j]! - baseline[j]!));
    }
    return { x: { data: x, shape: batchShape(ctx, count) }, weights: weights.slice(start, start + count) };
  },
};

export const integratedGradients: AttributionMethod = {
  id: 'ig',
  title: 'Integrated Gradients',
  async run(ctx) {
    const { steps, rule, baseline: kind } = ctx.params;
    const baseline = makeBaseline(ctx);
    try {
      const { alphas, weights } = quadrature(rule, steps);
      const path = { baseline: Float32Array.from(await baseline.data() as Float32Array), alphas, weights };
      const { sum, threads } = await gradientSums(ctx, straightPath, path, steps, 'Integrated Gradients', false);
      const data = tidyArray(() => tf.mul(tf.sub(ctx.input, baseline), tf.tensor(sum, ctx.input.shape)));
      const ends = tf.concat([ctx.input, baseline]);
      const [fx, fb] = await scores(ctx, ends).finally(() => ends.dispose());
      const delta = fx! - fb!;
      let total = 0;
      for (const v of data) total += v;
      const completenessError = Math.abs(total - delta) / Math.max(Math.abs(delta), 1e-12);
      const notes = Math.abs(delta) < 1e-6 ? ['f(x) ≈ f(baseline): completeness is not informative'] : [];
      return {
        data, shape: ctx.input.shape.slice(1), display: 'sum', signed: true,
        params: { steps, rule, baseline: kind, seed: ctx.params.seed },
        figures: { completenessError, sumAttributions: total, scoreInput: fx!, scoreBaseline: fb!, threads },
        notes,
      };
    } finally {
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
