import * as tf from '@tensorflow/tfjs';
import { drawSeed } from '../params';
import { gaussianNoise } from '../random';
import { batchSum, inBatches, inputGradient, tidyArray } from './score';
import type { MethodId } from '../../protocol/types';
import type { AttributionContext, AttributionMethod } from './types';

export type NoiseStatistic = 'mean' | 'meanSquare' | 'variance';

/**
 * SmoothGrad's sampling (Smilkov 2017): gradients at x + ε, ε ~ N(0, σ²), σ = s·(max(x) − min(x)),
 * reduced to their mean, mean square (SmoothGrad²) or variance (VarGrad). Running sums only, so memory
 * does not grow with the number of samples.
 */
export async function noiseTunnel(ctx: AttributionContext, statistic: NoiseStatistic, label: string): Promise<{
  data: Float32Array; sigma: number;
}> {
  const { samples, sigma: fraction, seed } = ctx.params;
  const [min, max] = tf.tidy(() => [ctx.input.min().dataSync()[0]!, ctx.input.max().dataSync()[0]!]);
  const sigma = fraction * (max - min);
  const shape = ctx.input.shape.slice(1);
  let sum = tf.keep(tf.zeros(shape));
  let sumSq = tf.keep(tf.zeros(shape));
  try {
    await inBatches(ctx, samples, label, (start, count) => {
      const [s, q] = tf.tidy(() => {
        // One draw per sample (seeded by its index), so the map does not depend on how samples were batched.
        const size = shape.reduce((a, b) => a * b, 1);
        const draws = new Float32Array(count * size);
        for (let i = 0; i < count; i++) draws.set(gaussianNoise(size, drawSeed(seed, start + i), sigma), i * size);
        const noise = tf.tensor(draws, [count, ...shape]);
        const g = inputGradient(ctx, tf.add(ctx.input, noise) as tf.Tensor4D);
        return [tf.add(sum, batchSum(g)), statistic === 'mean' ? sumSq : tf.add(sumSq, batchSum(g.square()))];
      });
      if (s !== sum) sum.dispose();
      if (q !== sumSq) sumSq.dispose();
      sum = tf.keep(s!);
      sumSq = tf.keep(q!);
    });
    const data = tidyArray(() => {
      const mean = tf.div(sum, samples);
      if (statistic === 'mean') return mean;
      const meanSq = tf.div(sumSq, samples);
      return statistic === 'meanSquare' ? meanSq : tf.sub(meanSq, mean.square());
    });
    return { data, sigma };
  } finally {
    sum.dispose();
    sumSq.dispose();
  }
}

/** A method whose map is one statistic of the noisy gradients. */
export function noiseTunnelMethod(id: MethodId, title: string, statistic: NoiseStatistic): AttributionMethod {
  return {
    id,
    title,
    async run(ctx) {
      const { data, sigma } = await noiseTunnel(ctx, statistic, title);
      return {
        data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false,
        params: { samples: ctx.params.samples, sigmaFraction: ctx.params.sigma, sigma, seed: ctx.params.seed },
        figures: {}, notes: [],
      };
    },
  };
}
