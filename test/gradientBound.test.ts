// The benchmark's gradient floor (bench/gradientBound.ts) removes exactly the ReLU-family masks: with them gone, the
// backward pass is the one of the same network with linear activations, whose input gradient ONNX Runtime computes
// from its own program here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { withoutMasks } from '../bench/gradientBound';
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

test('the gradient floor without masks equals the input gradient of the network with linear activations', async () => {
  const engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  const program: Program = { kind: 'class', rule: 'standard', target: 'logit', taps: [] };
  const masked = await engine.model(await saveModel(build(['relu', 'relu6', 'relu'])));
  const linear = await engine.model(await saveModel(build(['linear', 'linear', 'linear'])));
  const stripped = withoutMasks(compileProgram(masked.graph, masked.graph.weights, program));
  assert.equal(stripped.masks, 3, 'one mask per ReLU-family unit');
  const x = Float32Array.from({ length: 12 * 11 * 3 }, (_, i) => Math.sin(i * 0.7) * 2);
  const gradient = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes);
    const onehot = new Float32Array([0, 1, 0]);
    const r = await session.run({ x: new ort.Tensor('float32', x, [1, 12, 11, 3]), onehot: new ort.Tensor('float32', onehot, [1, 3]),
      w: new ort.Tensor('float32', new Float32Array([1]), [1]) }, ['gradient']);
    await session.release();
    return r.gradient!.data as Float32Array;
  };
  const [withMasks, maskFree, reference] = [
    await gradient(compileProgram(masked.graph, masked.graph.weights, program)), await gradient(stripped.bytes),
    await gradient(compileProgram(linear.graph, linear.graph.weights, program)),
  ];
  assert.ok(relativeError(maskFree, reference) <= 1e-5, `mask-free vs linear network: ${relativeError(maskFree, reference)}`);
  // The masks matter at this input: the real gradient differs.
  assert.ok(relativeError(withMasks, reference) > 0.05, `the masked gradient should differ: ${relativeError(withMasks, reference)}`);
});
