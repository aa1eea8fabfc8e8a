// Every sampler a lane can run, by kind: a method that sums gradients over samples adds a line here.
import { straightPath } from '../attribution/integratedGradients';
import { gaussianCopies } from '../attribution/noiseTunnel';
import type { Sampler } from './gradientSums';

export const SAMPLERS: ReadonlyMap<string, Sampler<never>> = new Map<string, Sampler<never>>(
  [gaussianCopies, straightPath].map((s) => [s.kind, s as Sampler<never>]),
);
