// The benchmark's gradient floors (bench/gradientBound.ts) change exactly the ReLU-family masks. With them gone, the
// backward pass is the one of the same network with linear activations, whose input gradient ONNX Runtime computes
// from its own program here. With each mask replaced by dy · y, it is the backward pass of the same forward with the
// local derivative y in place of the mask, which TF.js autodiff computes from a custom gradient.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { withOneMultiply, withoutMasks } from '../bench/gradientBound';
import { compileProgram, type Program } from '../src/engine/backends/onnxruntime/programs';
import { Engine } from '../src/engine/engine';
import { relativeError } from './helpers/context';
import { saveModel, seedWeights } from './helpers/models';

function build(activations: ['relu' | 'linear', 'relu6' | 'linear', 'relu' | 'linear']): tf.LayersModel {
  const input = tf.input({ shape: [12, 11, 3], name: 'image' });
  let x = tf.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: activations[0] }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', activation: activations[1] }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'c2', filters: 6, kernelSize: 1, activation: activations[2] }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 3 }).apply(tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  seedWeights(model, 4, 0.5);
  return model;
}

const x = Float32Array.from({ length: 12 * 11 * 3 }, (_, i) => Math.sin(i * 0.7) * 2);

async function gradient(bytes: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const onehot = new Float32Array([0, 1, 0]);
  const r = await session.run({ x: new ort.Tensor('float32', x, [1, 12, 11, 3]), onehot: new ort.Tensor('float32', onehot, [1, 3]),
    w: new ort.Tensor('float32', new Float32Array([1]), [1]) }, ['gradient']);
  await session.release();
  return r.gradient!.data as Float32Array;
}

test('the gradient floor without masks equals the input gradient of the network with linear activations', async () => {
  const engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  const program: Program = { kind: 'class', rule: 'standard', target: 'logit', taps: [] };
  const masked = await engine.model(await saveModel(build(['relu', 'relu6', 'relu'])));
  const linear = await engine.model(await saveModel(build(['linear', 'linear', 'linear'])));
  const stripped = withoutMasks(compileProgram(masked.graph, masked.graph.weights, program));
  assert.equal(stripped.masks, 3, 'one mask per ReLU-family unit');
  const [withMasks, maskFree, reference] = [
    await gradient(compileProgram(masked.graph, masked.graph.weights, program)), await gradient(stripped.bytes),
    await gradient(compileProgram(linear.graph, linear.graph.weights, program)),
  ];
  assert.ok(relativeError(maskFree, reference) <= 1e-5, `mask-free vs linear network: ${relativeError(maskFree, reference)}`);
  // The masks matter at this input: the real gradient differs.
  assert.ok(relativeError(withMasks, reference) > 0.05, `the masked gradient should differ: ${relativeError(withMasks, reference)}`);
});

test('the one-multiply floor is the backward pass with each mask replaced by the unit\'s output', async () => {
  const engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  const model = build(['relu', 'relu6', 'relu']);
  const loaded = await engine.model(await saveModel(model));
  const program: Program = { kind: 'class', rule: 'standard', target: 'logit', taps: [] };
  const rewritten = withOneMultiply(compileProgram(loaded.graph, loaded.graph.weights, program));
  assert.equal(rewritten.masks, 3, 'one mask per ReLU-family unit');
  const ours = await gradient(rewritten.bytes);
  // The oracle: the same forward in TF.js ops, each activation's local derivative replaced by its output.
  const outputTimes = (f: (t: tf.Tensor) => tf.Tensor) => tf.customGrad((t, save) => {
    const y = f(t as tf.Tensor);
    (save as tf.GradSaveFunc)([y]);
    return { value: y, gradFunc: (dy, [saved]) => tf.mul(dy, saved!) };
  }) as (t: tf.Tensor) => tf.Tensor;
  const weights = (name: string) => model.getLayer(name).getWeights();
  const [k1, b1] = weights('c1');
  const [kd, bd] = weights('dw');
  const [k2, b2] = weights('c2');
  const [kl, bl] = weights('logits');
  const logit = (input: tf.Tensor) => {
    let h = outputTimes(tf.relu)(tf.add(tf.conv2d(input as tf.Tensor4D, k1 as tf.Tensor4D, 2, 'same'), b1!));
    h = outputTimes(tf.relu6)(tf.add(tf.depthwiseConv2d(h as tf.Tensor4D, kd as tf.Tensor4D, 1, 'same'), bd!));
    h = outputTimes(tf.relu)(tf.add(tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 1, 'valid'), b2!));
    const scores = tf.add(tf.matMul(tf.mean(h, [1, 2]), kl as tf.Tensor2D), bl!);
    return tf.sum(tf.mul(scores, tf.tensor2d([[0, 1, 0]])));
  };
  const oracle = tf.grad(logit)(tf.tensor4d(x, [1, 12, 11, 3])).dataSync() as Float32Array;
  assert.ok(relativeError(ours, oracle) <= 1e-5, `one multiply per mask vs TF.js autodiff: ${relativeError(ours, oracle)}`);
  // The real gradient differs: the floor program is not the gradient.
  const real = await gradient(compileProgram(loaded.graph, loaded.graph.weights, program));
  assert.ok(relativeError(real, oracle) > 0.05, `the real gradient should differ: ${relativeError(real, oracle)}`);
});
