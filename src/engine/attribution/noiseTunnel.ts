import * as tf from '@tensorflow/tfjs';
import { drawSeed } from '../params';
import { gaussianNoise } from '../random';
import { gradientSums, type Sampler } from '../lanes/gradientSums';
import { batchShape, inputValues } from './score';
import type { MethodId } from '../../protocol/types';
import type { AttributionContext, AttributionMethod } from './types';

export type NoiseStatistic = 'mean' | 'meanSquare' | 'variance';

/** Sample i: x + ε with ε ~ N(0, σ²) drawn from its own seed, so the map does not depend on who computed which sample. */
export const gaussianCopies: Sampler<{ sigma: number; seed: number }> = {
  kind: 'gaussian-copies',
  batch(ctx, { sigma, seed }, start, count) {
    const input = inputValues(ctx);
    const size = input.length;
    const x = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const row = x.subarray(i * size, (i + 1) * size);
      gaussianNoise(size, drawSeed(seed, start + i), sigma, row);
      // A float32 sum, as tf.add would round it; a broadcasting tf.add cost ~1.5 ms per 224×224×3 sample.
      for (let j = 0; j < size; j++) row[j] = input[j]! + row[j]!;
    }
    return { x: { data: x, shape: batchShape(ctx, count) } };
  },
};

/**
 * SmoothGrad's sampling (Smilkov 2017): gradients at x + ε, ε ~ N(0, σ²), σ = s·(max(x) − min(x)),
 * reduced to their mean, mean square (SmoothGrad²) or variance (VarGrad). Running sums only, so memory
 * does not grow with the number of samples.
 */
export async function noiseTunnel(ctx: AttributionContext, statistic: NoiseStatistic, label: string): Promise<{
  data: Float32Array; sigma: number; threads: number;
}> {
  const { samples, sigma: fraction, seed } = ctx.params;
  const [min, max] = tf.tidy(() => [ctx.input.min().dataSync()[0]!, ctx.input.max().dataSync()[0]!]);
  const sigma = fraction * (max - min);
  const { sum, sumSq, threads } = await gradientSums(ctx, gaussianCopies, { sigma, seed }, samples, label, statistic !== 'mean');
  const data = new Float32Array(sum.length);
  for (let i = 0; i < data.length; i++) {
    const mean = sum[i]! / samples;
    if (statistic === 'mean') data[i] = mean;
    else data[i] = statistic === 'meanSquare' ? sumSq![i]! / samples : Math.max(0, sumSq![i]! / samples - mean * mean);
  }
  return { data, sigma, threads };
}

/** A method whose map is one statistic of the noisy gradients. */
export function noiseTunnelMethod(id: MethodId, title: string, statistic: NoiseStatistic): AttributionMethod {
  return {
    id,
    title,
    async run(ctx) {
      const { data, sigma, threads } = await noiseTunnel(ctx, statistic, title);
      return {
        data, shape: ctx.input.shape.slice(1), display: 'absmax', signed: false,
        params: { samples: ctx.params.samples, sigmaFraction: ctx.params.sigma, sigma, seed: ctx.params.seed },
        figures: { threads }, notes: [],
      };
    },
  };
}
