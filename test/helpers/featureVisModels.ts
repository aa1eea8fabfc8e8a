import * as tf from '@tensorflow/tfjs';
import { saveModel } from './models';

/** W[i][o] of the redirect model's 1×1 conv (input channel i → unit o). */
export const REDIRECT_WEIGHTS: readonly (readonly number[])[] = [[1, 0, 1], [0, 1, 1], [0.5, -0.5, 0]];

/**
 * Hand-built models whose units are known, for feature visualisation.
 *   colour (32×32×3, range [0, 1]): 'colour' = ReLU(1×1 conv) with unit c = x_c − ½ Σ_{c' ≠ c} x_c' (red, green, blue);
 *   then global average pooling and a dense head of 3 logits (the identity).
 */
export async function saveColourModel(): Promise<string> {
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  const conv = tf.layers.conv2d({ name: 'colour', filters: 3, kernelSize: 1, activation: 'relu' });
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const logits = tf.layers.dense({ name: 'logits', units: 3 });
  const out = [conv, gap, logits].reduce((x: tf.SymbolicTensor, l) => l.apply(x) as tf.SymbolicTensor, input);
  const model = tf.model({ inputs: input, outputs: out, name: 'colour' });
  const k = new Float32Array(9);
  for (let c = 0; c < 3; c++) for (let f = 0; f < 3; f++) k[c * 3 + f] = c === f ? 1 : -0.5;
  model.setWeights([tf.tensor4d(k, [1, 1, 3, 3]), tf.zeros([3]), tf.eye(3), tf.zeros([3])]);
  const file = await saveModel(model);
  model.dispose();
  return file;
}

/** A grayscale model (40×40×1): 'edges' = ReLU(3×3 conv) with unit 0 = vertical luminance gradient, unit 1 = horizontal. */
export async function saveGrayModel(): Promise<string> {
  const input = tf.input({ shape: [40, 40, 1], name: 'image' });
  const conv = tf.layers.conv2d({ name: 'edges', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' });
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const logits = tf.layers.dense({ name: 'logits', units: 2 });
  const out = [conv, gap, logits].reduce((x: tf.SymbolicTensor, l) => l.apply(x) as tf.SymbolicTensor, input);
  const model = tf.model({ inputs: input, outputs: out, name: 'gray' });
  const k = new Float32Array(9 * 2);
  for (let t = 0; t < 3; t++) {
    k[(2 * 3 + t) * 2 + 0] = 1; k[(0 * 3 + t) * 2 + 0] = -1; // brighter below
    k[(t * 3 + 2) * 2 + 1] = 1; k[(t * 3 + 0) * 2 + 1] = -1; // brighter to the right
  }
  model.setWeights([tf.tensor4d(k, [3, 3, 1, 2]), tf.zeros([2]), tf.eye(2), tf.zeros([2])]);
  const file = await saveModel(model, { input: { range: [-1, 1], mean: [0], std: [1], channels: 'gray' } });
  model.dispose();
  return file;
}

/**
 * For the redirected-ReLU rule: 'c' = 1×1 conv (3 → 3, W = REDIRECT_WEIGHTS, no bias), then 'r' = ReLU or
 * ReLU6 as its own layer (the executor fuses it into the conv unless 'c' is read).
 */
export function buildRedirectModel(max?: number): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 3], name: 'image' });
  const c = tf.layers.conv2d({ name: 'c', filters: 3, kernelSize: 1, useBias: false }).apply(input) as tf.SymbolicTensor;
  const r = tf.layers.reLU({ name: 'r', ...(max !== undefined ? { maxValue: max } : {}) }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 2 }).apply(tf.layers.flatten({ name: 'flat' }).apply(r) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'redirect' });
  model.setWeights([tf.tensor4d(REDIRECT_WEIGHTS.flat(), [1, 1, 3, 3]), tf.ones([48, 2]), tf.zeros([2])]);
  return model;
}

/** Lucid's redirected_relu_grad (and relu6), from the pre-activation x and the objective's gradient dy, per batch element. */
export function lucidRedirected(x: Float32Array, dy: Float32Array, batch: number, max: number): Float32Array {
  const per = x.length / batch;
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    let passes = false;
    for (let i = b * per; i < (b + 1) * per; i++) if (x[i]! > 0 && x[i]! < max && dy[i] !== 0) passes = true;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const live = x[i]! > 0 && x[i]! < max;
      if (passes) out[i] = live ? dy[i]! : 0;
      else out[i] = (x[i]! < 0 && dy[i]! < 0) || (x[i]! > max && dy[i]! > 0) ? 0 : dy[i]!;
    }
  }
  return out;
}

/**
 * Inputs for buildRedirectModel, batch of 3 on 4×4×3: element 0 mixed signs (some units live); element 1 every
 * pre-activation negative (all dead); element 2 all > 6 (saturated for ReLU6). The third channel is 0 in
 * elements 1 and 2 so the signs are as intended.
 */
export function redirectInputs(r: () => number): Float32Array {
  const n = 4 * 4 * 3;
  const input = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const third = i % 3 === 2;
    input[i] = r() * 2 - 1;
    input[n + i] = third ? 0 : -1 - r();
    input[2 * n + i] = third ? 0 : 7 + r();
  }
  return input;
}
