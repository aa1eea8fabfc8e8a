import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { inputGradient, scores, takeArray } from '../src/engine/attribution/score';
import { Engine } from '../src/engine/engine';
import { contextFor, relativeError } from './helpers/context';
import { buildCoverageModel, rng, saveModel } from './helpers/models';

let engine: Engine;
let modelPath: string;
before(async () => {
  engine = await Engine.create();
  modelPath = await saveModel(buildCoverageModel());
});

function randomInput(seed: number): tf.Tensor4D {
  const r = rng(seed);
  return tf.tensor4d(Float32Array.from({ length: 13 * 12 * 3 }, () => r()), [1, 13, 12, 3]);
}

test('input gradient equals central finite differences (conv/depthwise/separable/BN/pool/add/concat)', async () => {
  const model = await engine.model(modelPath);
  for (const kind of ['logit', 'probability'] as const) {
    const x = randomInput(3);
    const ctx = contextFor(model, x, { classIndex: 2, kind });
    const g = takeArray(await inputGradient(ctx, x));
    const r = rng(9);
    const coords = Array.from({ length: 40 }, () => Math.floor(r() * x.size));
    const eps = 1e-2;
    const base = x.dataSync();
    const fd: number[] = [];
    for (const i of coords) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i]! += eps;
      minus[i]! -= eps;
      const [fp, fm] = await scores(ctx, tf.tensor4d(Float32Array.from([...plus, ...minus]), [2, 13, 12, 3]));
      fd.push((fp! - fm!) / (2 * eps));
    }
    const err = relativeError(coords.map((i) => g[i]!), fd);
    assert.ok(err < 1e-3, `${kind}: relative error vs finite differences ${err}`);
    assert.ok(fd.some((v) => Math.abs(v) > 1e-4), 'finite differences are not all zero');
  }
});

// tfjs-layers cannot differentiate dilated convolutions, and its AvgPool gradient is wrong at 'same'-padded
// borders (Loupe computes that pooling itself), so this model has neither.
test('input gradient equals tfjs-layers autodiff on the cpu backend (an independent implementation)', async () => {
  const model = await engine.model(await saveModel(buildCoverageModel({ dilation: 1, pool: 'valid' })));
  const x = randomInput(5);
  const ctx = contextFor(model, x, { classIndex: 1, kind: 'probability' });
  const ours = takeArray(await inputGradient(ctx, x));
  const backend = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const reference = buildCoverageModel({ dilation: 1, pool: 'valid' });
    const theirs = tf.tidy(() => tf.grad((xi: tf.Tensor) =>
      (reference.apply(xi) as tf.Tensor).slice([0, 1], [1, 1]).sum() as tf.Scalar)(tf.tensor(x.dataSync(), x.shape)).dataSync());
    const err = relativeError(ours, theirs);
    assert.ok(err < 1e-4, `relative error vs tfjs-layers autodiff: ${err}`);
  } finally {
    await tf.setBackend(backend);
  }
});

test('fused conv → batch norm → activation units: same gradients as the unfused graph for every rule, and as tfjs-layers', async () => {
  const { buildFusableModel } = await import('./helpers/models');
  const { gradients } = await import('../src/engine/model/executor');
  const model = await engine.model(await saveModel(buildFusableModel()));
  const graph = model.graph;
  const r = rng(2);
  const x = tf.tensor4d(Float32Array.from({ length: 12 * 12 * 3 }, () => r() * 2), [1, 12, 12, 3]);
  const everyNode = graph.nodes.map((n) => n.name).filter((n) => n !== graph.inputName);
  for (const rule of ['standard', 'guided', 'deconvnet'] as const) {
    const grad = (outputs: string[]) => tf.tidy(() => gradients(graph, x, {
      outputs: [graph.logitsName, ...outputs], wrt: graph.inputName, rule, seed: () => tf.tensor2d([[0, 1, 0]]),
    }).gradient.dataSync());
    const fused = grad([]);
    const unfused = grad(everyNode); // asking for every node's value disables fusion
    const err = relativeError(fused, unfused);
    assert.ok(err < 1e-5, `${rule}: fused vs unfused relative error ${err}`);
    assert.ok(fused.some((v) => v !== 0));
  }
  const backend = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const reference = buildFusableModel();
    const theirs = tf.tidy(() => tf.grad((xi: tf.Tensor) =>
      (reference.apply(xi) as tf.Tensor).slice([0, 1], [1, 1]).sum() as tf.Scalar)(tf.tensor(x.dataSync(), x.shape)).dataSync());
    await tf.setBackend(backend);
    const ours = takeArray(await inputGradient(contextFor(model, x, { classIndex: 1 }), x));
    assert.ok(relativeError(ours, theirs) < 1e-4, `vs tfjs-layers: ${relativeError(ours, theirs)}`);
  } finally {
    await tf.setBackend(backend);
  }
});
