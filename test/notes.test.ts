/*
 * No silent degradation: what a method could not do as named is said in the map's notes.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import { buildCoverageModel, randomImage, saveModel, seedWeights } from './helpers/models';

let engine: Engine;
before(async () => { engine = await Engine.create({ backend: 'wasm', lanes: 1 }); });

const RULE_METHODS = ['guided-backprop', 'deconvnet', 'guided-gradcam'] as const;

test('guided backprop, deconvnet and Guided Grad-CAM name the activations their rule does not cover', async () => {
  const modelPath = await saveModel(buildCoverageModel());
  const result = await engine.explain(modelPath, randomImage(12, 13, 2), { methods: [...RULE_METHODS], classIndex: 1, layer: 'proj' });
  for (const method of RULE_METHODS) {
    const notes = result.maps.find((m) => m.summary.method === method)!.summary.notes.join('\n');
    // buildCoverageModel: tanh in c1, c2, sep, proj; elu in d1; sigmoid in dw.
    assert.match(notes, /applies to ReLU-family units only: .*tanh \(c1, c2, sep, proj\)/, method);
    assert.match(notes, /elu \(d1\)/, method);
    assert.match(notes, /sigmoid \(dw\)/, method);
    assert.match(notes, /passed their ordinary derivative/, method);
  }
});

test('a network of ReLUs only gets no such note; a layer run through tfjs-layers as a whole is named', async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const c = tf.layers.conv2d({ name: 'c', filters: 4, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const up = tf.layers.upSampling2d({ name: 'up', size: [2, 2] }).apply(c) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(up) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 2 }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  seedWeights(model, 3);
  const withOpaque = await engine.explain(await saveModel(model), randomImage(8, 8, 1), { methods: ['guided-backprop'], classIndex: 0 });
  const notes = withOpaque.maps[0]!.summary.notes.join('\n');
  assert.doesNotMatch(notes, /ReLU-family units only/);
  assert.match(notes, /up ran through tfjs-layers as a whole: any ReLU inside it passed the ordinary gradient, not the guided rule/);

  const plain = tf.model({ inputs: input, outputs: tf.layers.dense({ name: 'fc2', units: 2 }).apply(
    tf.layers.flatten({ name: 'flat2' }).apply(c) as tf.SymbolicTensor) as tf.SymbolicTensor });
  seedWeights(plain, 3);
  const clean = await engine.explain(await saveModel(plain), randomImage(8, 8, 1), { methods: ['deconvnet'], classIndex: 0 });
  assert.deepEqual(clean.maps[0]!.summary.notes, []);
});

test('a constant map gets no sanity ρ (undefined, not 0) and a note saying the check is undecided', async () => {
  // f(x) = b: the gradient is 0 everywhere, so the original map has no ranking.
  const input = tf.input({ shape: [4, 4, 3] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ name: 'h', units: 3, kernelInitializer: 'zeros', activation: 'tanh' }).apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 2, kernelInitializer: 'zeros', biasInitializer: 'ones' }).apply(hidden) as tf.SymbolicTensor;
  const modelPath = await saveModel(tf.model({ inputs: input, outputs: out }));
  const result = await engine.explain(modelPath, randomImage(4, 4, 5), { methods: ['gradient'], classIndex: 0, sanity: true });
  const map = result.maps[0]!.summary;
  assert.ok(Array.from(result.maps[0]!.data).every((v) => v === 0), 'the toy map is constant');
  assert.equal(map.figures.sanitySpearman, undefined);
  assert.match(map.notes.join('\n'), /the map itself is constant, so no rank correlation exists: the check is undecided, not passed/);
});
