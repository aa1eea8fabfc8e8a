import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../src/engine/backend';
import { compileObjective } from '../src/engine/featureVis/objectives';
import type { FeatureVisTerm } from '../src/protocol/featureVis';
import { rng } from './helpers/models';

/** Lucid's objectives against their formulas written out with loops; their seeds against finite differences. */

before(async () => {
  await initBackend('wasm');
});

const B = 3;
const H = 4;
const W = 5;
const C = 6;
const at = (b: number, y: number, x: number, c: number) => ((b * H + y) * W + x) * C + c;
const r = rng(31);
const acts = Float32Array.from({ length: B * H * W * C }, () => r() * 2 - 0.5);

function value(terms: FeatureVisTerm[], a = acts): number {
  const [obj] = compileObjective(terms, B, () => [H, W, C]);
  return obj!.evaluate(a).value;
}

test('channel, neuron, direction (dot and cosine) and their weighted sums equal their formulas', () => {
  let channel = 0;
  for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) channel += acts[at(b, y, x, 2)]!;
  assert.ok(Math.abs(value([{ kind: 'channel', layer: 'l', unit: 2 }]) - channel / (B * H * W)) < 1e-5);
  let one = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) one += acts[at(1, y, x, 2)]!;
  assert.ok(Math.abs(value([{ kind: 'channel', layer: 'l', unit: 2, batch: 1 }]) - one / (H * W)) < 1e-5);
  // Lucid's neuron: layer[:, H//2, W//2, n], summed over the batch by the optimiser
  let neuron = 0;
  for (let b = 0; b < B; b++) neuron += acts[at(b, 2, 2, 4)]!;
  assert.ok(Math.abs(value([{ kind: 'neuron', layer: 'l', unit: 4 }]) - neuron) < 1e-5);
  const vec = [0.5, -1, 2, 0, 1, -0.25];
  let dot = 0;
  let cos = 0;
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let d = 0;
        let na = 0;
        for (let c = 0; c < C; c++) {
          d += acts[at(b, y, x, c)]! * vec[c]!;
          na += acts[at(b, y, x, c)]! ** 2;
        }
        dot += d;
        cos += d / (Math.sqrt(na) * Math.hypot(...vec));
      }
    }
  }
  assert.ok(Math.abs(value([{ kind: 'direction', layer: 'l', vector: vec }]) - dot / (B * H * W)) < 1e-5);
  assert.ok(Math.abs(value([{ kind: 'direction', layer: 'l', vector: vec, similarity: 'cosine' }]) - cos / (B * H * W)) < 1e-5);
  const sum = value([{ kind: 'channel', layer: 'l', unit: 2 }, { kind: 'neuron', layer: 'l', unit: 4, weight: -0.5 }]);
  assert.ok(Math.abs(sum - (channel / (B * H * W) - 0.5 * neuron)) < 1e-5);
});

test('diversity equals Lucid\'s pairwise sum of normalised Gram matrices', () => {
  const grams: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const g = new Float64Array(C * C);
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        for (let p = 0; p < H * W; p++) g[i * C + j]! += acts[at(b, Math.floor(p / W), p % W, i)]! * acts[at(b, Math.floor(p / W), p % W, j)]!;
      }
    }
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    grams.push(g.map((v) => v / norm));
  }
  let expected = 0;
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) if (i !== j) expected += grams[i]!.reduce((s, v, k) => s + v * grams[j]![k]!, 0);
  expected /= B;
  assert.ok(Math.abs(value([{ kind: 'diversity', layer: 'l' }]) - expected) < 1e-4, `${value([{ kind: 'diversity', layer: 'l' }])} vs ${expected}`);
});

test('seeds (d objective / d activations) equal central finite differences', () => {
  const terms: FeatureVisTerm[] = [
    { kind: 'channel', layer: 'l', unit: 1 }, { kind: 'diversity', layer: 'l', weight: -2 },
    { kind: 'direction', layer: 'l', vector: [1, 0.5, -1, 2, 0, 1], similarity: 'cosine', weight: 0.7 },
  ];
  const [obj] = compileObjective(terms, B, () => [H, W, C]);
  const { seed } = obj!.seed(acts);
  const rand = rng(4);
  for (let trial = 0; trial < 5; trial++) {
    const d = Float32Array.from({ length: acts.length }, () => rand() * 2 - 1);
    const eps = 1e-2;
    const plus = obj!.evaluate(acts.map((v, i) => v + eps * d[i]!)).value;
    const minus = obj!.evaluate(acts.map((v, i) => v - eps * d[i]!)).value;
    const fd = (plus - minus) / (2 * eps);
    const analytic = seed.reduce((s, v, i) => s + v * d[i]!, 0);
    assert.ok(Math.abs(fd - analytic) < 2e-3 * Math.max(1, Math.abs(fd)), `trial ${trial}: ${fd} vs ${analytic}`);
  }
});
