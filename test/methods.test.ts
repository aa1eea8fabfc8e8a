import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { jStat } from 'jstat';
import { Engine } from '../src/engine/engine';
import { gaussianNoise } from '../src/engine/random';
import type { RgbaImage } from '../src/engine/types';
import { buildCoverageModel, randomImage, rng, saveModel } from './helpers/models';

/* On a linear model f_c(x) = w_c · x + b every method has a closed form. */
const H = 6;
const W = 5;
const r = rng(21);
const WEIGHTS = Array.from({ length: H * W * 3 * 3 }, () => r() * 2 - 1); // [H·W·3, 3]
const image: RgbaImage = randomImage(W, H, 8);
const x = Array.from({ length: H * W * 3 }, (_, i) => image.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255);
const CLS = 2;
const w = Array.from({ length: H * W * 3 }, (_, i) => WEIGHTS[i * 3 + CLS]!);

async function linearModel(): Promise<string> {
  const input = tf.input({ shape: [H, W, 3] });
  const flat = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 3 }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights([tf.tensor(WEIGHTS, [H * W * 3, 3]), tf.tensor([0.1, 0.2, -0.3])]);
  return saveModel(model);
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

let engine: Engine;
let linear: string;
before(async () => {
  engine = await Engine.create();
  linear = await linearModel();
});

test('linear model: gradient, gradient×input, SmoothGrad family and IG have their closed forms', async () => {
  const result = await engine.explain(linear, image, {
    methods: ['gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig'], classIndex: CLS,
    params: { samples: 7, sigma: 0.3, steps: 5, rule: 'riemann_trapezoid' },
  });
  const map = (m: string) => result.maps.find((o) => o.summary.method === m)!;
  close(map('gradient').data, w, 1e-5, 'gradient');
  close(map('gradxinput').data, x.map((v, i) => v * w[i]!), 1e-5, 'gradxinput');
  close(map('smoothgrad').data, w, 1e-5, 'smoothgrad');
  close(map('smoothgrad-sq').data, w.map((v) => v * v), 1e-5, 'smoothgrad-sq');
  close(map('vargrad').data, w.map(() => 0), 1e-5, 'vargrad');
  close(map('ig').data, x.map((v, i) => v * w[i]!), 1e-5, 'ig (black baseline = 0)');
  assert.ok(map('ig').summary.figures.completenessError! < 1e-5);
  assert.deepEqual(map('gradient').summary.shape, [H, W, 3]);
});

test('linear model: occlusion equals the hand-computed drop of each window, averaged per pixel', async () => {
  const result = await engine.explain(linear, image, { methods: ['occlusion'], classIndex: CLS, params: { window: 2, stride: 2 } });
  // Windows start at 0, 2, 4 (rows) and 0, 2 plus a last one flush with the right edge at 3 (columns).
  const starts = (size: number) => (size === 6 ? [0, 2, 4] : [0, 2, 3]);
  const sum = new Array(H * W).fill(0);
  const count = new Array(H * W).fill(0);
  for (const y0 of starts(H)) for (const x0 of starts(W)) {
    let drop = 0;
    for (let y = y0; y < y0 + 2; y++) for (let xx = x0; xx < x0 + 2; xx++) for (let c = 0; c < 3; c++) {
      const i = (y * W + xx) * 3 + c;
      drop += w[i]! * x[i]!; // black baseline is 0 in [0, 1] input space
    }
    for (let y = y0; y < y0 + 2; y++) for (let xx = x0; xx < x0 + 2; xx++) {
      sum[y * W + xx] += drop;
      count[y * W + xx] += 1;
    }
  }
  const expected = sum.flatMap((s, p) => [s / count[p], s / count[p], s / count[p]]);
  close(result.maps[0]!.data, expected, 1e-4, 'occlusion');
});

test('Integrated Gradients is complete within 1% at 64 steps on a nonlinear model, for every baseline', async () => {
  const modelPath = await saveModel(buildCoverageModel());
  const img = randomImage(12, 13, 3);
  for (const baseline of ['black', 'blurred', 'uniform'] as const) {
    const result = await engine.explain(modelPath, img, { methods: ['ig'], params: { steps: 64, baseline } });
    const figures = result.maps[0]!.summary.figures;
    assert.ok(Math.abs(figures.scoreInput! - figures.scoreBaseline!) > 1e-3, `${baseline}: f(x) − f(x′) is not trivially 0`);
    assert.ok(figures.completenessError! < 0.01, `${baseline}: completeness error ${figures.completenessError}`);
  }
});

test('SmoothGrad with σ = 0 equals the plain gradient; with σ > 0 it differs on a nonlinear model', async () => {
  const modelPath = await saveModel(buildCoverageModel());
  const img = randomImage(12, 13, 4);
  const plain = await engine.explain(modelPath, img, { methods: ['gradient'] });
  const zero = await engine.explain(modelPath, img, { methods: ['smoothgrad'], params: { sigma: 0, samples: 3 } });
  const noisy = await engine.explain(modelPath, img, { methods: ['smoothgrad'], params: { sigma: 0.2, samples: 3 } });
  close(zero.maps[0]!.data, plain.maps[0]!.data, 1e-6, 'σ = 0');
  assert.ok(noisy.maps[0]!.data.some((v, i) => Math.abs(v - plain.maps[0]!.data[i]!) > 1e-4));
});

test('bad requests name what is wrong', async () => {
  await assert.rejects(engine.explain(linear, image, { methods: ['nope' as 'gradient'] }), /unknown method 'nope'/);
  await assert.rejects(engine.explain(linear, image, { methods: ['gradient'], classIndex: 7 }), /class 7 does not exist/);
  await assert.rejects(engine.explain(linear, image, { methods: ['gradient'], params: { samples: -1 } }), /samples must be an integer/);
  await assert.rejects(engine.explain(linear, image, { methods: ['gradcam'], layer: 'fc' }), /'fc' is not a layer with a spatial/);
});

test('SmoothGrad is reproducible for a seed whatever the batching, and changes with the seed', async () => {
  const modelPath = await saveModel(buildCoverageModel());
  const img = randomImage(12, 13, 6);
  const run = (maxBatch: number, seed: number) =>
    engine.explain(modelPath, img, { methods: ['smoothgrad'], params: { samples: 6, maxBatch, seed } });
  // Seed 0 (the default) too: tfjs reads a seed of 0 as "unseeded".
  for (const seed of [0, 3]) {
    const [one, many, other] = await Promise.all([run(1, seed), run(16, seed), run(16, seed + 1)].map((p) => p.then((r) => r.maps[0]!.data)));
    close(many!, one!, 1e-5, `seed ${seed}: batch 16 vs batch 1`);
    assert.ok(other!.some((v, i) => Math.abs(v - one![i]!) > 1e-5), 'another seed gives another map');
  }
});

test('SmoothGrad noise: standard normal draws (moments, Kolmogorov–Smirnov, the ziggurat\'s tail), the same for a seed', () => {
  const n = 200_001;
  const x = gaussianNoise(n, 12345);
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  const kurtosis = x.reduce((s, v) => s + (v - mean) ** 4, 0) / n / variance ** 2;
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.01 && Math.abs(kurtosis - 3) < 0.05, `${mean} ${variance} ${kurtosis}`);
  const sorted = Float64Array.from(x).sort();
  let d = 0;
  sorted.forEach((v, i) => { d = Math.max(d, Math.abs(jStat.normal.cdf(v, 0, 1) - (i + 0.5) / n)); });
  assert.ok(d < 1.36 / Math.sqrt(n), `KS distance ${d}`); // 5% critical value
  // Beyond R = 3.4426 the ziggurat draws from its own tail sampler: as often as the normal law puts mass there.
  const beyond = x.reduce((s, v) => s + (Math.abs(v) > 3.442619855899 ? 1 : 0), 0);
  const expected = n * 2 * (1 - jStat.normal.cdf(3.442619855899, 0, 1));
  assert.ok(Math.abs(beyond - expected) < 4 * Math.sqrt(expected), `${beyond} draws beyond R, ${expected.toFixed(1)} expected`);
  assert.ok(x.some((v) => v > 3.9) && x.some((v) => v < -3.9), 'both far tails are reached'); // ~10 draws each expected
  assert.deepEqual(gaussianNoise(1000, 7, 0.5), gaussianNoise(1000, 7, 0.5));
  assert.notDeepEqual(gaussianNoise(1000, 7), gaussianNoise(1000, 8));
});
