import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { mulberry32 as rng } from '../../demo/shapes/dataset';
import { saveLayersModel } from '../../src/engine/io/saveLayersModel';
import type { RgbaImage } from '../../src/engine/types';

export function tempDir(prefix = 'loupe-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Saves a model (and optional sidecar) into a fresh folder; returns the model.json path. */
export async function saveModel(model: tf.LayersModel, sidecar?: object): Promise<string> {
  const dir = tempDir();
  await saveLayersModel(model, dir);
  if (sidecar) fs.writeFileSync(path.join(dir, 'loupe.json'), JSON.stringify(sidecar));
  return path.join(dir, 'model.json');
}

/** Deterministic pseudo-random numbers, so tests do not depend on Math.random. */
export { rng };

export function randomImage(width: number, height: number, seed: number): RgbaImage {
  const r = rng(seed);
  const data = new Float32Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.round(r() * 255);
  return { width, height, data };
}

/** Sets every weight of a model from a seeded normal-ish distribution with the given scale. */
export function seedWeights(model: tf.LayersModel, seed: number, scale = 0.3): void {
  const r = rng(seed);
  model.setWeights(model.weights.map((w) => {
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const positive = /variance/.test(w.name);
    const values = Float32Array.from({ length: size }, () => {
      const v = (r() + r() + r() - 1.5) * 2 * scale;
      return positive ? 0.5 + Math.abs(v) : v;
    });
    return tf.tensor(values, shape);
  }));
}

/**
 * A small smooth network touching every layer type whose backward pass Loupe writes itself:
 * conv (same / valid, stride 2, dilation 2), depthwise (stride 2, multiplier 2), separable, batch norm,
 * pooling, add, concatenate, zero padding, dropout (identity at inference), dense. Smooth activations keep finite differences accurate.
 */
export function buildCoverageModel(options: { dilation?: number; pool?: 'same' | 'valid' } = {}): tf.LayersModel {
  const input = tf.input({ shape: [13, 12, 3], name: 'image' });
  const c1 = tf.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ name: 'c2', filters: 5, kernelSize: 3, strides: 2, padding: 'valid', activation: 'tanh' }).apply(c1) as tf.SymbolicTensor;
  const d1 = tf.layers.conv2d({ name: 'd1', filters: 4, kernelSize: 3, dilationRate: options.dilation ?? 2, padding: 'same', activation: 'elu' }).apply(c1) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'same', activation: 'sigmoid' }).apply(d1) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(dw) as tf.SymbolicTensor;
  const pad = tf.layers.zeroPadding2d({ name: 'pad', padding: [[0, 1], [1, 0]] }).apply(c2) as tf.SymbolicTensor;
  const sep = tf.layers.separableConv2d({ name: 'sep', filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(bn) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([sep, tf.layers.conv2d({ name: 'c3', filters: 8, kernelSize: 2, padding: 'same' }).apply(pad) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const proj = tf.layers.conv2d({ name: 'proj', filters: 16, kernelSize: 1, activation: 'tanh' }).apply(cat) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([proj, tf.layers.conv2d({ name: 'skip', filters: 16, kernelSize: 1 }).apply(cat) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const pool = tf.layers.averagePooling2d({ name: 'pool', poolSize: 2, padding: options.pool ?? 'same' }).apply(add) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ name: 'drop', rate: 0.5 }).apply(pool) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(dropped) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 4, activation: 'softmax' }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'coverage' });
  seedWeights(model, 11, 0.4);
  return model;
}

/** conv → BN → ReLU6, depthwise → BN → LeakyReLU, conv(relu), with a residual: what the executor fuses. */
export function buildFusableModel(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3], name: 'image' });
  let x = tf.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'r1', maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  let y = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: 'bn2' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.leakyReLU({ name: 'r2', alpha: 0.1 }).apply(y) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'res' }).apply([x, y]) as tf.SymbolicTensor;
  const z = tf.layers.conv2d({ name: 'c3', filters: 6, kernelSize: 1, activation: 'relu' }).apply(sum) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 3 }).apply(gap) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'fusable' });
  seedWeights(model, 5, 0.5);
  return model;
}
