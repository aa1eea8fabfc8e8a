import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { semanticDictionary } from '../src/engine/blocks/dictionary';
import { nmf } from '../src/engine/blocks/nmf';
import { Engine } from '../src/engine/engine';
import { decodeNpy } from '../src/engine/output/npy';
import type { RgbaImage } from '../src/engine/types';
import { randomImage, rng, saveModel, tempDir } from './helpers/models';

/**
 * The Building Blocks against oracles Loupe did not compute: NMF against planted factors and against sklearn's
 * reconstruction error on a real activation matrix (test/fixtures/blocks/make_sklearn_nmf.py); attributions
 * against a model that is linear after the layer (act·grad = each position's exact contribution), Euler's
 * identity for the layer → layer norm maps, and the path integral's completeness.
 */

let engine: Engine;
before(async () => {
  engine = await Engine.create({ backend: 'wasm', cacheDir: tempDir('loupe-blocks-cache-') });
});
after(() => engine.lanes.stop());

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]!; mb += b[i]!; }
  ma /= n;
  mb /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

test('NMF recovers K planted non-negative factors (each matched with correlation ≥ 0.95)', () => {
  const r = rng(8);
  const [n, m, k] = [196, 384, 6];
  // Sparse-ish factors, as neuron groups are: each position mostly in one or two groups.
  const W = Float64Array.from({ length: n * k }, () => (r() < 0.35 ? r() : 0));
  const H = Float64Array.from({ length: k * m }, () => (r() < 0.3 ? r() * 2 : 0));
  const A = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let c = 0; c < k; c++) A[i * m + j]! += W[i * k + c]! * H[c * m + j]!;
  const t0 = performance.now();
  const res = nmf(A, n, m, k);
  const ms = performance.now() - t0;
  const col = (X: Float64Array, c: number) => Array.from({ length: n }, (_, i) => X[i * k + c]!);
  const used = new Set<number>();
  for (let c = 0; c < k; c++) {
    const best = [...Array(k).keys()].filter((d) => !used.has(d))
      .map((d) => ({ d, r: Math.min(correlation(col(W, c), col(res.W, d)), correlation(H.subarray(c * m, (c + 1) * m), res.H.subarray(d * m, (d + 1) * m))) }))
      .sort((x, y) => y.r - x.r)[0]!;
    used.add(best.d);
    assert.ok(best.r >= 0.95, `planted factor ${c}: best match ${best.d} with correlation ${best.r.toFixed(3)}`);
  }
  assert.ok(res.relativeError < 0.01, `relative error ${res.relativeError}`);
  assert.ok(ms < 2000, `NMF K=6 on 196×384 took ${ms.toFixed(0)} ms`);
});

test('NMF on a real activation matrix reconstructs within 5% of sklearn\'s error', () => {
  const dir = path.join(__dirname, 'fixtures/blocks');
  const { data, shape } = decodeNpy(fs.readFileSync(path.join(dir, 'activations.npy')));
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'sklearn_nmf.json'), 'utf8')) as { errors: Record<string, { relativeError: number }> };
  for (const [k, { relativeError }] of Object.entries(ref.errors)) {
    const res = nmf(data, shape[0]!, shape[1]!, Number(k));
    assert.ok(res.relativeError <= 1.05 * relativeError, `k=${k}: Loupe ${res.relativeError} vs sklearn ${relativeError}`);
  }
});

test('the semantic dictionary lists each position\'s strongest channels, strongest first', () => {
  const r = rng(2);
  const [h, w, c] = [3, 4, 7];
  const acts = Float32Array.from({ length: h * w * c }, () => r());
  const d = semanticDictionary(acts, h, w, c, 4);
  assert.equal(d.entries.length, h * w);
  for (const e of d.entries) {
    const row = Array.from(acts.subarray((e.y * w + e.x) * c, (e.y * w + e.x + 1) * c));
    const sorted = [...row].sort((a, b) => b - a);
    assert.deepEqual(e.values, sorted.slice(0, 4));
    assert.deepEqual(e.channels, e.values.map((v) => row.indexOf(v)));
  }
  const best = Math.max(...acts);
  const at = acts.indexOf(best);
  assert.deepEqual(d.start, { y: Math.floor(at / c / w), x: Math.floor(at / c) % w });
});

/**
 * 'feat' = ReLU(3×3 conv) [6×6×4]; 'mix' = 1×1 conv of 'feat' (linear, no bias) [6×6×5]; logits = dense(flatten(feat)).
 * After 'feat' the logits are linear: position p contributes Σ_c feat[p, c] · w[p, c, class] exactly.
 */
async function saveLinearHeadModel(): Promise<{ file: string; dense: Float32Array }> {
  const input = tf.input({ shape: [6, 6, 3], name: 'image' });
  const feat = tf.layers.conv2d({ name: 'feat', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const mix = tf.layers.conv2d({ name: 'mix', filters: 5, kernelSize: 1, useBias: false }).apply(feat) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(feat) as tf.SymbolicTensor;
  const flatMix = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(mix) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'joined' }).apply([flat, flatMix]) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: 'logits', units: 3 }).apply(joined) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits, name: 'linearhead' });
  const r = rng(19);
  const dense = Float32Array.from({ length: (144 + 5) * 3 }, () => r() * 2 - 1);
  // 'mix' feeds the logits only through its spatial mean times these weights; zero them so the logits are linear in 'feat' alone.
  dense.fill(0, 144 * 3);
  model.setWeights([
    tf.tensor4d(Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => r() * 2 - 1), [3, 3, 3, 4]), tf.tensor1d([0.1, 0.2, -0.1, 0.3]),
    tf.tensor4d(Float32Array.from({ length: 4 * 5 }, () => r() * 2 - 1), [1, 1, 4, 5]),
    tf.tensor2d(dense, [149, 3]), tf.tensor1d([0.5, -0.5, 0]),
  ]);
  const file = await saveModel(model);
  model.dispose();
  return { file, dense };
}

test('spatial attribution to a class equals each position\'s exact contribution when the head is linear; channel and group attributions are consistent', async () => {
  const { file, dense } = await saveLinearHeadModel();
  const image: RgbaImage = randomImage(6, 6, 4);
  const r = await engine.blocks(file, image, { layer: 'feat', classIndex: 1, versusClass: 2, groups: 3, pathSteps: 10 });
  assert.equal(r.dictionary.length, 36);
  // exact contributions from the activations (read from the model by a plain forward pass) and the dense weights
  const model = await engine.model(file);
  const { ModelPasses } = await import('../src/engine/featureVis/passes');
  const { toModelInput } = await import('../src/engine/image/preprocess');
  const [feat] = await new ModelPasses(model).activations(['feat'], toModelInput(image, model.description.preprocessing, 3), 1);
  for (let p = 0; p < 36; p++) {
    let exact = 0;
    for (let c = 0; c < 4; c++) exact += feat![p * 4 + c]! * (dense[(p * 4 + c) * 3 + 1]! - dense[(p * 4 + c) * 3 + 2]!);
    assert.ok(Math.abs(r.spatial.toClass[p]! - exact) < 1e-4, `position ${p}: ${r.spatial.toClass[p]} vs ${exact}`);
  }
  // linear head: simple = integrated per channel, and both sum to the score difference exactly
  const total = r.spatial.toClass.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(r.channel.simple.reduce((a, b) => a + b, 0) - total) < 1e-4);
  for (let c = 0; c < 4; c++) assert.ok(Math.abs(r.channel.simple[c]! - r.channel.integrated[c]!) < 1e-4);
  assert.ok(Math.abs(r.channel.integratedSum - r.channel.scoreDifference) < 1e-4);
  assert.equal(r.score, 'logit(class 1) − logit(class 2)');
  // groups reconstruct the activations, so their attributions sum close to the total
  const groupSum = r.groups.attribution.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(groupSum - total) <= r.groups.relativeError * 3 * Math.abs(total) + 1e-3, `groups ${groupSum} vs ${total}`);
});

test('layer → later layer maps satisfy Euler\'s identity: each sums to the norm of the later activation vector', async () => {
  const { file } = await saveLinearHeadModel();
  const image = randomImage(6, 6, 9);
  const r = await engine.blocks(file, image, { layer: 'feat', toLayer: 'mix', pathSteps: 1, groups: 2 });
  const model = await engine.model(file);
  const { ModelPasses } = await import('../src/engine/featureVis/passes');
  const { toModelInput } = await import('../src/engine/image/preprocess');
  const [mix] = await new ModelPasses(model).activations(['mix'], toModelInput(image, model.description.preprocessing, 3), 1);
  const maps = r.spatial.toLayer!.maps;
  assert.equal(maps.length, 36);
  maps.forEach((map, q) => {
    const norm = Math.hypot(...Array.from(mix!.subarray(q * 5, (q + 1) * 5)));
    // 'mix' is a 1×1 linear conv: ‖mix[q]‖ is 1-homogeneous in feat[q] and independent of other positions
    assert.ok(Math.abs(map[q]! - norm) < 1e-4 * Math.max(1, norm), `position ${q}: ${map[q]} vs ${norm}`);
    assert.ok(map.every((v, p) => p === q || Math.abs(v) < 1e-6), `position ${q}: attribution outside the position`);
  });
  await assert.rejects(engine.blocks(file, image, { layer: 'mix', toLayer: 'feat' }), /not computed from 'mix'/);
  await assert.rejects(engine.blocks(file, image, { layer: 'logits' }), /not a layer with a spatial/);
  await assert.rejects(engine.blocks(file, image, { layer: 'feat', classIndex: 7 }), /class 7 does not exist/);
});

test('path-integrated channel attribution sums to the score difference along the path within 1% (demo model, N = 100)', async () => {
  const r = await engine.blocks(path.join(__dirname, '../demo/shapes/model/model.json'), path.join(__dirname, '../demo/images/shape-1-cross.jpg'), { layer: 'relu4' });
  const gap = Math.abs(r.channel.integratedSum - r.channel.scoreDifference) / Math.abs(r.channel.scoreDifference);
  assert.ok(gap < 0.01, `Σ attribution ${r.channel.integratedSum} vs score difference ${r.channel.scoreDifference}`);
  assert.equal(r.groups.k, 6);
  assert.equal(r.groups.spatial.length, 6);
  // the groups differ: no two spatial maps are near-identical
  for (let a = 0; a < 6; a++) for (let b = a + 1; b < 6; b++) assert.ok(correlation(r.groups.spatial[a]!, r.groups.spatial[b]!) < 0.95);
});

test('the activation grid renders one cell per position, with progress, and its objective rises', async () => {
  const progress: number[] = [];
  const g = await engine.activationGrid(path.join(__dirname, '../demo/shapes/model/model.json'), path.join(__dirname, '../demo/images/shape-1-cross.jpg'),
    { layer: 'relu6', steps: 24, positionsPerStep: 8, groups: 3 }, { onProgress: (f) => progress.push(f) });
  assert.deepEqual([g.rows, g.cols, g.cellSize], [16, 16, 38], 'Lucid\'s 42 px cells cropped by 2 px each side');
  const { PNG } = await import('pngjs');
  const png = PNG.sync.read(Buffer.from(g.png, 'base64'));
  assert.deepEqual([png.width, png.height], [16 * 38, 16 * 38]);
  assert.equal(progress.at(-1), 1);
  assert.equal(g.values.length, 24);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(g.values.slice(-6)) > mean(g.values.slice(0, 6)), `objective ${mean(g.values.slice(0, 6))} → ${mean(g.values.slice(-6))}`);
});
