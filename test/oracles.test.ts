/*
 * Oracles Loupe did not compute: published quadrature tables, a closed form for VarGrad on a quadratic
 * model, TF.js autodiff with custom-gradient ReLUs for guided backprop and deconvnet on a conv net,
 * Guided Grad-CAM assembled by hand from its definition, and tfjs-layers' own predict for the forward pass.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { quadrature } from '../src/engine/attribution/quadrature';
import { Engine } from '../src/engine/engine';
import type { RgbaImage } from '../src/engine/types';
import { upsampleByHand } from './helpers/bilinear';
import { relativeError } from './helpers/context';
import { buildCoverageModel, buildFusableModel, randomImage, rng, saveModel, seedWeights } from './helpers/models';

const ROOT = path.join(__dirname, '..');

let engines: Engine[];
before(async () => {
  engines = [await Engine.create({ backend: 'wasm', lanes: 1 }), await Engine.create()];
});

/** Runs `f` on TF.js's plain cpu backend: an implementation Loupe's kernels and rules take no part in. */
async function onCpu<T>(f: () => T | Promise<T>): Promise<T> {
  const backend = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    return await f(); // awaited here, or the backend is switched back before an async f runs
  } finally {
    await tf.setBackend(backend);
  }
}

describe('Gauss–Legendre nodes and weights', () => {
  // Abramowitz & Stegun, Table 25.4, on [−1, 1]: the positive nodes and their weights.
  const PUBLISHED: Record<number, [number, number][]> = {
    3: [[0, 0.888888888888889], [0.774596669241483, 0.555555555555556]],
    5: [[0, 0.568888888888889], [0.538469310105683, 0.478628670499366], [0.906179845938664, 0.236926885056189]],
    10: [[0.148874338981631, 0.295524224714753], [0.433395394129247, 0.269266719309996], [0.679409568299024, 0.219086362515982],
      [0.865063366688985, 0.149451349150581], [0.973906528517172, 0.066671344308688]],
  };

  for (const [n, table] of Object.entries(PUBLISHED)) {
    test(`n = ${n} equals Abramowitz & Stegun's table, mapped to [0, 1]`, () => {
      const { alphas, weights } = quadrature('gausslegendre', Number(n));
      const expected = table.flatMap(([x, w]) => (x === 0 ? [[0.5, w / 2]] : [[(1 - x) / 2, w / 2], [(1 + x) / 2, w / 2]]))
        .sort((a, b) => a[0]! - b[0]!);
      const ours = alphas.map((a, i) => [a, weights[i]!]).sort((a, b) => a[0]! - b[0]!);
      assert.equal(ours.length, Number(n));
      ours.forEach(([a, w], i) => {
        assert.ok(Math.abs(a! - expected[i]![0]!) < 1e-13, `node ${i}: ${a} vs ${expected[i]![0]}`);
        assert.ok(Math.abs(w! - expected[i]![1]!) < 1e-13, `weight ${i}: ${w} vs ${expected[i]![1]}`);
      });
    });
  }

  test('the default 50 points integrate every polynomial of degree ≤ 99 exactly, and not degree 100', () => {
    const { alphas, weights } = quadrature('gausslegendre', 50);
    const integral = (k: number) => alphas.reduce((s, a, i) => s + weights[i]! * a ** k, 0);
    for (let k = 0; k <= 99; k++) assert.ok(Math.abs(integral(k) - 1 / (k + 1)) < 1e-13, `∫ α^${k}: ${integral(k)} vs ${1 / (k + 1)}`);
    assert.ok(Math.abs(integral(100) - 1 / 101) > 1e-30, 'degree 2n is not exact (else the nodes are not Gauss–Legendre)');
  });
});

describe('VarGrad and the SmoothGrad noise scale on a quadratic model', () => {
  /*
   * f_c(x) = Σ_i v_ic x_i² + b_c, so ∂f_c/∂x_i at x + σε is 2 v_ic (x_i + σ ε_i): the gradients' variance over
   * the noise is 4 v_ic² σ² Var(ε_i) with ε ~ N(0, 1) and σ = s·(max(x) − min(x)). Per pixel, n·Var_n(ε)
   * follows χ²(n − 1) (population variance of n draws), so VarGrad / (4 v² σ²) averages (n − 1)/n.
   */
  const H = 6;
  const W = 5;
  const P = H * W * 3;
  const r = rng(8);
  const V = Array.from({ length: P * 2 }, () => (r() * 2 - 1) * (r() < 0.5 ? 1 : 3));
  const image = randomImage(W, H, 13);
  const CLS = 1;
  const N = 64;
  const S = 0.2;

  async function quadraticModel(): Promise<string> {
    const input = tf.input({ shape: [H, W, 3] });
    const square = tf.layers.multiply({ name: 'square' }).apply([input, input]) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(square) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'fc', units: 2 }).apply(flat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    model.setWeights([tf.tensor(V, [P, 2]), tf.tensor([0.3, -0.1])]);
    // range [−1, 1]: x = 2·p/255 − 1, so σ is s·(max − min) of those values, not of the pixels.
    return saveModel(model, { input: { range: [-1, 1], channels: 'rgb' } });
  }

  test('VarGrad / (4 v² σ²) has the χ²(n − 1)/n law per pixel; σ is reported as s·(max − min) of the model input', async () => {
    const modelPath = await quadraticModel();
    const x = Array.from({ length: P }, (_, i) => 2 * image.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255 - 1);
    const sigma = S * (Math.max(...x) - Math.min(...x));
    for (const engine of engines) {
      const result = await engine.explain(modelPath, image, {
        methods: ['vargrad', 'gradient'], classIndex: CLS, params: { samples: N, sigma: S, seed: 3 },
      });
      const map = (m: string) => result.maps.find((o) => o.summary.method === m)!;
      const gradient = map('gradient').data;
      x.forEach((xi, i) => assert.ok(Math.abs(gradient[i]! - 2 * V[i * 2 + CLS]! * xi) < 1e-4 * (1 + Math.abs(gradient[i]!)), `gradient[${i}]: ${gradient[i]} vs ${2 * V[i * 2 + CLS]! * xi}`));
      const vargrad = map('vargrad');
      assert.ok(Math.abs(Number(vargrad.summary.params.sigma) - sigma) < 1e-6 * sigma, `σ ${vargrad.summary.params.sigma} vs ${sigma}`);
      const ratios = Array.from(vargrad.data, (v, i) => v / (4 * V[i * 2 + CLS]! ** 2 * sigma ** 2));
      // χ²(63) lies within [30.4, 107.5] with probability 1 − 1e-5 (two-sided): per-pixel bounds.
      ratios.forEach((q, i) => assert.ok(q * N > 30.4 && q * N < 107.5, `${engine.backend} pixel ${i}: n·ratio ${q * N} outside χ²(63) bounds`));
      const mean = ratios.reduce((a, b) => a + b, 0) / P;
      const sd = Math.sqrt(2 * (N - 1)) / N / Math.sqrt(P);
      assert.ok(Math.abs(mean - (N - 1) / N) < 5 * sd, `${engine.backend}: mean ratio ${mean} vs ${(N - 1) / N} ± ${5 * sd}`);
    }
  });
});

describe('guided backprop and deconvnet on a conv net', () => {
  /*
   * Reference: the same network written with TF.js ops, each ReLU a tf.customGrad carrying the rule
   * (guided: dy·[z > 0]·[dy > 0], ReLU6 also [z < 6]; deconvnet: max(dy, 0)), differentiated by TF.js's
   * autodiff on the cpu backend. Conv, strided conv, max-pool and dense backward come from TF.js, not Loupe.
   */
  type Rule = 'guided' | 'deconvnet';
  const SIZE = 12;

  function network(): tf.LayersModel {
    const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'image' });
    let h = tf.layers.conv2d({ name: 'c1', filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ name: 'c2', filters: 6, kernelSize: 3, strides: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU({ name: 'r2', maxValue: 6 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten({ name: 'flat' }).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'logits', units: 3 }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    seedWeights(model, 17, 0.5);
    return model;
  }

  function ruleRelu(rule: Rule, cap: number): (z: tf.Tensor) => tf.Tensor {
    const withRule = (z: tf.Tensor, save: tf.GradSaveFunc) => {
      save([z]);
      return {
        value: tf.clipByValue(z, 0, cap),
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => (rule === 'deconvnet'
          ? tf.relu(dy)
          : tf.mul(dy, tf.mul(tf.logicalAnd(tf.greater(saved!, 0), tf.less(saved!, cap)), tf.greater(dy, 0)).toFloat())),
      };
    };
    return tf.customGrad(withRule as unknown as Parameters<typeof tf.customGrad>[0]) as (z: tf.Tensor) => tf.Tensor;
  }

  function reference(model: tf.LayersModel, x: tf.Tensor4D, rule: Rule, cls: number): Float32Array {
    const [k1, b1] = model.getLayer('c1').getWeights();
    const [k2, b2] = model.getLayer('c2').getWeights();
    const [wd, bd] = model.getLayer('logits').getWeights();
    const f = (xi: tf.Tensor) => {
      let h = ruleRelu(rule, Infinity)(tf.add(tf.conv2d(xi as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'same'), b1!));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
      h = ruleRelu(rule, 6)(tf.add(tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 2, 'same'), b2!));
      const logits = tf.add(tf.matMul(h.reshape([1, -1]), wd as tf.Tensor2D), bd!);
      return logits.slice([0, cls], [1, 1]).sum() as tf.Scalar;
    };
    return tf.tidy(() => tf.grad(f)(x).dataSync() as Float32Array);
  }

  test('equal TF.js autodiff with custom-gradient ReLUs, on every backend', async () => {
    const model = network();
    const modelPath = await saveModel(model, { input: { range: [0, 1], channels: 'rgb' } });
    const image = randomImage(SIZE, SIZE, 31);
    const x = tf.tensor4d(Array.from({ length: SIZE * SIZE * 3 }, (_, i) => image.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255), [1, SIZE, SIZE, 3]);
    for (const cls of [0, 2]) {
      const expected = await onCpu(() => ({ guided: reference(model, x, 'guided', cls), deconvnet: reference(model, x, 'deconvnet', cls) }));
      const plain = await onCpu(() => tf.tidy(() => tf.grad((xi: tf.Tensor) =>
        (model.apply(xi) as tf.Tensor).slice([0, cls], [1, 1]).sum() as tf.Scalar)(x).dataSync()));
      for (const rule of ['guided', 'deconvnet'] as const) {
        assert.ok(relativeError(expected[rule], plain) > 0.05, `the network separates ${rule} from the gradient`);
      }
      for (const engine of engines) {
        const result = await engine.explain(modelPath, image, { methods: ['guided-backprop', 'deconvnet'], classIndex: cls });
        for (const [method, rule] of [['guided-backprop', 'guided'], ['deconvnet', 'deconvnet']] as const) {
          const ours = result.maps.find((m) => m.summary.method === method)!;
          const err = relativeError(ours.data, expected[rule]);
          assert.ok(err < 1e-4, `${result.summary.backend} ${method} class ${cls}: relative error ${err}`);
        }
      }
    }
    x.dispose();
  });
});

describe('Guided Grad-CAM from its definition', () => {
  /*
   * x (8×8×1) → conv 'c' (3×3, stride 2, same, ReLU) → A (4×4×2) → GAP → dense (3 logits).
   * ∂f_c/∂A_k = W[k,c]/16 everywhere, so Grad-CAM_c = ReLU(Σ_k W[k,c]/16 · A_k); guided backprop passes
   * g_k = W[k,c]/16 through the ReLU where z_k > 0 and g_k > 0, then back through the conv by hand.
   * Guided Grad-CAM = guided ⊙ bilinear(Grad-CAM) with half-pixel centres.
   */
  const r = rng(44);
  const K = Array.from({ length: 18 }, () => r() * 2 - 1); // [3, 3, 1, 2]
  const KB = [0.05, -0.1];
  const FC = [[1.5, -2, 0.5], [-1, 1, 2]];
  const X = Array.from({ length: 64 }, () => Math.round(r() * 255));
  const image: RgbaImage = { width: 8, height: 8, data: Float32Array.from(X.flatMap((v) => [v, v, v, 255])) };

  function byHand(cls: number): number[] {
    // TF 'same' for 8 → 4 with k 3, s 2: padding 0 before, 1 after.
    const z = Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j) => [0, 1].map((k) => {
      let s = KB[k]!;
      for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
        const yy = 2 * i + di;
        const xx = 2 * j + dj;
        if (yy < 8 && xx < 8) s += (X[yy * 8 + xx]! / 255) * K[(di * 3 + dj) * 2 + k]!;
      }
      return s;
    })));
    const g = [0, 1].map((k) => FC[k]![cls]! / 16);
    const cam = z.map((row) => row.map((zz) => Math.max(0, zz.reduce((s, v, k) => s + g[k]! * Math.max(0, v), 0))));
    const guided = new Array<number>(64).fill(0);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (const k of [0, 1]) {
      if (!(z[i]![j]![k]! > 0 && g[k]! > 0)) continue;
      for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
        const yy = 2 * i + di;
        const xx = 2 * j + dj;
        if (yy < 8 && xx < 8) guided[yy * 8 + xx]! += g[k]! * K[(di * 3 + dj) * 2 + k]!;
      }
    }
    const up = upsampleByHand(cam, 8).flat();
    return guided.map((v, p) => v * up[p]!);
  }

  test('equals guided backprop ⊙ upsampled Grad-CAM computed by hand, for each class', async () => {
    const input = tf.input({ shape: [8, 8, 1], name: 'x' });
    const c = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'fc', units: 3 }).apply(gap) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    model.setWeights([tf.tensor(K, [3, 3, 1, 2]), tf.tensor(KB), tf.tensor(FC), tf.tensor([0, 0.3, -0.2])]);
    // Maps are derivatives with respect to the model input, here x = pixel / 255.
    const modelPath = await saveModel(model, { input: { range: [0, 1], channels: 'gray' } });
    let nonzero = 0;
    for (const cls of [0, 1, 2]) {
      const expected = byHand(cls);
      nonzero += expected.filter((v) => v !== 0).length;
      for (const engine of engines) {
        const result = await engine.explain(modelPath, image, { methods: ['guided-gradcam'], classIndex: cls, layer: 'c' });
        const map = result.maps[0]!;
        assert.deepEqual(map.summary.shape, [8, 8, 1]);
        expected.forEach((v, i) => assert.ok(Math.abs(map.data[i]! - v) < 1e-5 * (1 + Math.abs(v)),
          `${result.summary.backend} class ${cls} [${i}]: ${map.data[i]} vs ${v}`));
      }
    }
    assert.ok(nonzero > 20, 'the toy leaves enough of the map non-zero to test');
  });
});

describe('forward pass', () => {
  /** tfjs-layers (or tfjs-converter's executor, for a graph model) reads the same files and predicts: the reference. */
  async function predictWithTfjs(modelPath: string, x: tf.Tensor4D): Promise<Float32Array> {
    const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
    const specs = json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights);
    const buffers = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelPath), p))));
    const all = Buffer.concat(buffers);
    const handler = tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs,
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) });
    return onCpu(async () => {
      const model = json.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
      const y = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
      model.dispose();
      return y;
    });
  }

  const models: [string, () => Promise<string>][] = [
    ['coverage (conv/dilated/depthwise/separable/BN/pool/add/concat/dropout)', () => saveModel(buildCoverageModel())],
    ['fusable (conv → BN → ReLU6, depthwise → BN → LeakyReLU, residual)', () => saveModel(buildFusableModel())],
    ['demo digits', async () => path.join(ROOT, 'demo/digits/model/model.json')],
    ['demo shapes', async () => path.join(ROOT, 'demo/shapes/model/model.json')],
    // Written by tfjs-converter 1.7.4 from a Keras model (uint8-quantised weights): not Loupe's layersToGraph.
    ['a real converter graph model (nsfwjs MobileNetV2)', async () => path.join(ROOT, 'test/fixtures/graph-model/nsfwjs-mobilenet_v2_mid/model.json')],
  ];

  for (const [label, make] of models) {
    test(`equals tfjs's own predict (tf.loadLayersModel / tf.loadGraphModel): ${label}`, async () => {
      const modelPath = await make();
      for (const engine of engines) {
        const model = await engine.model(modelPath);
        const [h, w, c] = model.description.inputShape;
        const r = rng(5);
        const x = tf.tensor4d(Float32Array.from({ length: 2 * h * w * c }, () => r() * 2 - 0.5), [2, h, w, c]);
        const expected = await predictWithTfjs(modelPath, x);
        const [logits] = await model.passes.forward(x, [model.graph.logitsName]);
        const ours = tf.tidy(() => (model.graph.head === 'softmax' ? tf.softmax(logits!) : logits!).dataSync());
        logits!.dispose();
        x.dispose();
        const err = relativeError(ours, expected);
        assert.ok(err < 1e-5, `${model.passes.backend}: relative error ${err}`);
        assert.ok(expected.some((v) => Math.abs(v - expected[0]!) > 1e-6), 'the outputs are not all equal');
      }
    });
  }
});
