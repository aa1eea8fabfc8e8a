/** Lucid's render_vis defaults, and the validation of parameters that arrive from untrusted callers. */
import type { FeatureVisParams, FeatureVisTransform } from '../../protocol/featureVis';
import { LoupeError } from '../../protocol/errors';
import { STANDARD_TRANSFORMS } from './transforms';

export const FEATURE_VIS_DEFAULTS: Readonly<FeatureVisParams> = Object.freeze({
  steps: 512,
  size: 128,
  batch: 1,
  lr: 0.05,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  seed: 0,
  sd: 0.01,
  decayPower: 1,
  decorrelate: true,
  transforms: STANDARD_TRANSFORMS.map((t) => structuredClone(t)),
  redirectedSteps: 16,
  previewEvery: 32,
});

function bad(message: string, hint?: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message, undefined, hint);
}

function number(name: string, value: unknown, lo: number, hi: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi || (integer && !Number.isInteger(value))) {
    throw bad(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}] (got ${JSON.stringify(value)})`);
  }
  return value;
}

function numbers(name: string, value: unknown, lo: number, hi: number): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 1000) throw bad(`${name} must be a non-empty list of numbers`);
  return value.map((v, i) => number(`${name}[${i}]`, v, lo, hi, false));
}

function transform(t: unknown, i: number): FeatureVisTransform {
  const o = (t ?? {}) as Record<string, unknown>;
  const at = `transforms[${i}]`;
  switch (o.kind) {
    case 'pad': return { kind: 'pad', pixels: number(`${at}.pixels`, o.pixels, 0, 256, true), value: number(`${at}.value`, o.value, 0, 1, false) };
    case 'jitter': return { kind: 'jitter', pixels: number(`${at}.pixels`, o.pixels, 0, 256, true) };
    case 'scale': return { kind: 'scale', factors: numbers(`${at}.factors`, o.factors, 0.1, 10) };
    case 'rotate': return { kind: 'rotate', degrees: numbers(`${at}.degrees`, o.degrees, -360, 360) };
    default: throw bad(`${at}.kind must be pad, jitter, scale or rotate (got ${JSON.stringify(o.kind)})`);
  }
}

/**
 * Merges the caller's parameters over the defaults. `maxSize`: the model's fixed input side, which caps the
 * default size (Lucid's 128 px, or the model's input when it is smaller).
 */
export function resolveFeatureVisParams(given: Partial<FeatureVisParams> | undefined, maxSize: number): FeatureVisParams {
  if (given !== undefined && (typeof given !== 'object' || given === null)) throw bad('params must be an object');
  for (const key of Object.keys(given ?? {})) {
    if (!(key in FEATURE_VIS_DEFAULTS)) throw bad(`unknown feature visualisation parameter '${key}'`, `known: ${Object.keys(FEATURE_VIS_DEFAULTS).join(', ')}`);
  }
  const p = { ...FEATURE_VIS_DEFAULTS, size: Math.min(FEATURE_VIS_DEFAULTS.size, maxSize), ...(given ?? {}) };
  if (typeof p.decorrelate !== 'boolean') throw bad(`decorrelate must be true or false (got ${JSON.stringify(p.decorrelate)})`);
  if (!Array.isArray(p.transforms)) throw bad('transforms must be a list');
  return {
    steps: number('steps', p.steps, 1, 100000, true),
    size: number('size', p.size, 8, 1024, true),
    batch: number('batch', p.batch, 1, 64, true),
    lr: number('lr', p.lr, 0, 100, false),
    beta1: number('beta1', p.beta1, 0, 0.999999, false),
    beta2: number('beta2', p.beta2, 0, 0.999999999, false),
    epsilon: number('epsilon', p.epsilon, 0, 1, false),
    seed: number('seed', p.seed, 0, 2 ** 31, true),
    sd: number('sd', p.sd, 0, 10, false),
    decayPower: number('decayPower', p.decayPower, 0, 4, false),
    decorrelate: p.decorrelate,
    transforms: p.transforms.map(transform),
    redirectedSteps: number('redirectedSteps', p.redirectedSteps, 0, 100000, true),
    previewEvery: number('previewEvery', p.previewEvery, 1, 100000, true),
  };
}
