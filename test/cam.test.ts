import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import type { RgbaImage } from '../src/engine/types';
import { layersToGraph } from '../scripts/layersToGraph';
import { upsampleByHand } from './helpers/bilinear';
import { rng, saveModel, tempDir } from './helpers/models';

/*
 * Toy: x (8×8×1) → conv 'c' (3×3, stride 2, 'same', 2 filters, ReLU) → A (4×4×2) → GAP → dense 'fc' (3).
 * By hand: CAM_c = Σ_k W[k,c] A_k; ∂f_c/∂A_k(i,j) = W[k,c] / 16, so Grad-CAM = ReLU(Σ_k (W[k,c]/16) A_k).
 */
const r = rng(4);
const K = Array.from({ length: 9 * 2 }, () => r() * 2 - 1); // [3,3,1,2] row-major
const KB = [0.1, -0.05];
const FC = [[1.5, -2, 0.5], [-1, 1, 2]];
const FB = [0, 0.3, -0.2];
const X = Array.from({ length: 64 }, () => Math.round(r() * 255));

function handActivations(): number[][][] {
  // TF 'same' for in 8, k 3, s 2: out 4, total padding 1 → top/left 0, bottom/right 1.
  const A = Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => [0, 0]));
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 2; k++) {
    let s = KB[k]!;
    for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
      const y = 2 * i + di;
      const x = 2 * j + dj;
      if (y < 8 && x < 8) s += (X[y * 8 + x]! / 255) * K[(di * 3 + dj) * 2 + k]!;
    }
    A[i]![j]![k] = Math.max(0, s);
  }
  return A;
}

async function toy(): Promise<string> {
  const input = tf.input({ shape: [8, 8, 1], name: 'x' });
  const c = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 3, activation: 'softmax' }).apply(gap) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights([tf.tensor(K, [3, 3, 1, 2]), tf.tensor(KB), tf.tensor(FC), tf.tensor(FB)]);
  return saveModel(model, { input: { range: [0, 1], channels: 'gray' } });
}

const image: RgbaImage = { width: 8, height: 8, data: Float32Array.from(X.flatMap((v) => [v, v, v, 255])) };

let engine: Engine;
before(async () => { engine = await Engine.create(); });

test('CAM and Grad-CAM equal their formulas computed by hand, at low and input resolution (Layers and Graph)', async () => {
  const layersPath = await toy();
  const graphPath = await layersToGraph(layersPath, path.join(tempDir(), 'graph'));
  const A = handActivations();
  assert.ok(A.flat(2).some((v) => v > 0) && A.flat(2).some((v) => v === 0), 'toy activations exercise the ReLU');
  for (const modelPath of [layersPath, graphPath]) {
    const description = await engine.describe(modelPath);
    assert.equal(description.defaultCamLayer, 'c');
    assert.equal(description.cam.available, true);
    for (const cls of [0, 1, 2]) {
      const result = await engine.explain(modelPath, image, { methods: ['cam', 'gradcam'], classIndex: cls });
      const cam = A.map((row) => row.map((a) => a[0]! * FC[0]![cls]! + a[1]! * FC[1]![cls]!));
      const grad = cam.map((row) => row.map((v) => Math.max(0, v / 16)));
      for (const [method, expected] of [['cam', cam], ['gradcam', grad]] as const) {
        const map = result.maps.find((m) => m.summary.method === method)!;
        assert.deepEqual(map.summary.lowresShape, [4, 4]);
        assert.deepEqual(map.summary.shape, [8, 8]);
        expected.flat().forEach((v, i) => assert.ok(Math.abs(map.lowres![i]! - v) < 1e-5, `${method} low[${i}] ${map.lowres![i]} vs ${v}`));
        upsampleByHand(expected, 8).flat().forEach((v, i) => assert.ok(Math.abs(map.data[i]! - v) < 1e-5, `${method} full[${i}]`));
      }
    }
  }
});

test('CAM is reported as not applicable when the head is not GAP + dense', async () => {
  const input = tf.input({ shape: [8, 8, 1] });
  const c = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 3 }).apply(flat) as tf.SymbolicTensor;
  const modelPath = await saveModel(tf.model({ inputs: input, outputs: out }));
  const result = await engine.explain(modelPath, image, { methods: ['cam', 'gradcam'] });
  assert.deepEqual(result.maps.map((m) => m.summary.method), ['gradcam']);
  assert.equal(result.summary.skipped[0]?.method, 'cam');
  assert.match(result.summary.skipped[0]!.reason, /flat/);
});
