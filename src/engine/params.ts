import type { MethodParams } from '../protocol/types';
import { LoupeError } from '../protocol/errors';

/**
 * Defaults: SmoothGrad n = 25, s = 0.15 (PAIR saliency); IG 50 Gauss–Legendre steps from a black
 * baseline (Captum); occlusion window 1/8 of the image side, stride half a window.
 */
export const DEFAULT_PARAMS: Readonly<MethodParams> = Object.freeze({
  samples: 25,
  sigma: 0.15,
  steps: 50,
  baseline: 'black',
  rule: 'gausslegendre',
  window: 0,
  stride: 0,
  occlusionBaseline: 'black',
  seed: 0,
  maxBatch: 16,
});

const CHOICES: Partial<Record<keyof MethodParams, readonly string[]>> = {
  baseline: ['black', 'blurred', 'uniform'],
  rule: ['gausslegendre', 'riemann_trapezoid', 'riemann_middle'],
  occlusionBaseline: ['black', 'mean'],
};
const LIMITS: Partial<Record<keyof MethodParams, [number, number]>> = {
  samples: [1, 10000], steps: [1, 10000], window: [0, 100000], stride: [0, 100000], seed: [0, 2 ** 31], maxBatch: [1, 1024],
};

/** Merges untrusted parameters (from the CLI or a webview) over the defaults, refusing bad values by name. */
export function resolveParams(given: Partial<MethodParams> | undefined): MethodParams {
  const params = { ...DEFAULT_PARAMS, ...(given ?? {}) } as MethodParams;
  for (const [key, value] of Object.entries(params) as [keyof MethodParams, unknown][]) {
    // Own keys only: `'__proto__' in DEFAULT_PARAMS` is true, and CHOICES.__proto__ is Object.prototype.
    if (!Object.hasOwn(DEFAULT_PARAMS, key)) throw new LoupeError('BAD_REQUEST', `unknown parameter '${key}'`);
    const choices = Object.hasOwn(CHOICES, key) ? CHOICES[key] : undefined;
    if (choices) {
      if (!choices.includes(String(value))) throw new LoupeError('BAD_REQUEST', `${key} must be one of ${choices.join(', ')} (got '${value}')`);
      continue;
    }
    const limits = Object.hasOwn(LIMITS, key) ? LIMITS[key] : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new LoupeError('BAD_REQUEST', `${key} must be a number (got '${value}')`);
    if (limits && (!Number.isInteger(value) || value < limits[0] || value > limits[1])) {
      throw new LoupeError('BAD_REQUEST', `${key} must be an integer in [${limits[0]}, ${limits[1]}] (got ${value})`);
    }
  }
  if (!(params.sigma >= 0 && params.sigma <= 10)) throw new LoupeError('BAD_REQUEST', `sigma must be in [0, 10] (got ${params.sigma})`);
  return params;
}

/**
 * The seed for the index-th random draw of a run. Never 0: tfjs treats a seed of 0 as "no seed" and
 * draws from Math.random, which made seed-0 runs irreproducible.
 */
export function drawSeed(seed: number, index: number): number {
  return seed * 1_000_003 + index + 1;
}
