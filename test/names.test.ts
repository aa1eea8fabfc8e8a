// Honest notes and controls that scale (issue 12): the near-uniform test against closed forms, the
// small-image note, the export folder, the Grad-CAM picker's default layers and filter.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import { smallImageNote } from '../src/engine/image/inputNotes';
import { FLAT_FRACTION, nearUniformReason, SCORE_FRACTION } from '../src/engine/output/uniform';
import { exportFolderPath, isInside } from '../src/host/exports/exportFolderPath';
import { featureLayers } from '../src/host/panels/explainData';
import type { LayerInfo } from '../src/protocol/types';
import { visibleLayers } from '../webview/explain/layerFilter';
import { randomImage, saveModel } from './helpers/models';

const map = (values: number[]): Float32Array => Float32Array.from(values);

test('near-uniform: flat to the eye below 2 % of the magnitude, zero maps included, signed maps by |v|', () => {
  assert.match(nearUniformReason({ display: map([0, 0, 0, 0]), score: 3 })!, /zero everywhere/);
  assert.match(nearUniformReason({ display: map([1, 1, 1, 1]), score: 3 })!, /near-uniform/);
  // Just under and just over the threshold: 1 ± 0.019 vs 1 ± 0.021 around 1.
  assert.ok(nearUniformReason({ display: map([1, 1 - FLAT_FRACTION * 0.95]), score: 3 }));
  assert.equal(nearUniformReason({ display: map([1, 1 - FLAT_FRACTION * 1.05]), score: 3 }), undefined);
  assert.equal(nearUniformReason({ display: map([-1, 1]), score: 3 }), undefined, 'a signed map with both signs has structure');
  assert.equal(nearUniformReason({ display: map([0, 0.0057]), score: 3 }), undefined, 'small values alone are not uniform');
  assert.equal(nearUniformReason({ display: map([NaN, 0, 1]), score: 3 }), undefined, 'non-finite values are ignored');
});

test('near-uniform (Grad-CAM/CAM): the map\'s variation summed over the layer against 1 % of the score', () => {
  const lowres = (range: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => (i === 0 ? range : 0));
  const display = map([0, 1]);
  // 49 positions, score 10: the threshold is range · 49 < 0.1.
  assert.ok(nearUniformReason({ display, lowres: lowres(0.099 / 49, 49), score: 10 }));
  assert.equal(nearUniformReason({ display, lowres: lowres(0.101 / 49, 49), score: -10 }), undefined);
  assert.match(nearUniformReason({ display, lowres: lowres(1e-4, 49), score: 10 })!, new RegExp(`under ${SCORE_FRACTION * 100} % of the target score`));
});

test('near-uniform on a real run: a GAP + dense model whose conv is constant, and the same model with a live conv', async () => {
  // Closed form: with a zero kernel, the conv output is its bias everywhere, so Grad-CAM is constant and the
  // input gradient is exactly 0; with random weights neither holds.
  const build = (flat: boolean): tf.LayersModel => {
    const input = tf.input({ shape: [16, 16, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv',
      ...(flat ? { kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 0.5 }) } : { kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }) })
      .apply(input) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: 'ones' }).apply(gap) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  };
  const engine = await Engine.create({ backend: 'wasm' });
  const image = randomImage(16, 16, 7);
  const flat = await engine.explain(await saveModel(build(true)), image, { methods: ['gradient', 'gradcam'] });
  for (const m of flat.summary.maps) {
    assert.ok(m.nearUniform, `${m.method} of a constant conv should be near-uniform`);
    assert.ok(m.notes.includes(m.nearUniform!), 'the reason is in the map\'s notes');
  }
  const live = await engine.explain(await saveModel(build(false)), image, { methods: ['gradient', 'gradcam'] });
  for (const m of live.summary.maps) assert.equal(m.nearUniform, undefined, `${m.method}: ${m.nearUniform}`);
});

test('small-image note: past 2× upscaling per side, with the factor', () => {
  assert.equal(smallImageNote({ width: 112, height: 112 }, { width: 224, height: 224 }), undefined);
  assert.match(smallImageNote({ width: 111, height: 224 }, { width: 224, height: 224 })!, /111×224 px.*upscaled it 2\.0×/);
  assert.match(smallImageNote({ width: 1, height: 1 }, { width: 224, height: 224 })!, /1×1 px, much smaller than the model's 224×224 input: Loupe upscaled it 224×/);
  assert.equal(smallImageNote({ width: 640, height: 480 }, { width: 224, height: 224 }), undefined);
});

test('small-image note reaches the explain summary (engine) and not for a full-size image', async () => {
  const input = tf.input({ shape: [8, 8, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(flat) as tf.SymbolicTensor });
  const file = await saveModel(model);
  const engine = await Engine.create({ backend: 'wasm' });
  const small = await engine.explain(file, randomImage(2, 3, 1), { methods: ['gradient'] });
  assert.equal(small.summary.inputNotes?.length, 1);
  assert.match(small.summary.inputNotes![0]!, /2×3 px.*8×8 input.*upscaled it 4\.0×/);
  const full = await engine.explain(file, randomImage(8, 8, 1), { methods: ['gradient'] });
  assert.equal(full.summary.inputNotes, undefined);
});

test('export folder: relative to the workspace folder, absolute as given, default loupe-exports; inside is strict', () => {
  const root = path.resolve('/ws');
  assert.equal(exportFolderPath(undefined, root, path.join(root, 'images')), path.join(root, 'loupe-exports'));
  assert.equal(exportFolderPath('  out/maps ', root, root), path.join(root, 'out', 'maps'));
  assert.equal(exportFolderPath(path.resolve('/tmp/x'), root, root), path.resolve('/tmp/x'));
  assert.equal(exportFolderPath('', undefined, path.resolve('/elsewhere/img')), path.resolve('/elsewhere/img/loupe-exports'));
  const folder = path.join(root, 'loupe-exports');
  assert.equal(isInside(path.join(folder, 'a_gradient.png'), folder), true);
  assert.equal(isInside(path.join(folder, 'sub', 'b.png'), folder), true);
  assert.equal(isInside(folder, folder), false);
  assert.equal(isInside(path.join(root, 'loupe-exports-old', 'c.png'), folder), false);
  assert.equal(isInside(path.join(root, 'images', 'd.png'), folder), false);
});

test('Grad-CAM picker: feature layers by default, everything with "show all", a filter on display and full names', () => {
  const layer = (name: string, className: string, isConv = false): LayerInfo => ({ name, className, isConv, outputShape: [7, 7, 8], params: 0, inputs: [] });
  const layers = [
    layer('input_1', 'InputLayer'), layer('Conv1_pad', 'ZeroPadding2D'), layer('Conv1', 'Conv2D', true), layer('bn_Conv1', 'BatchNormalization'),
    layer('Conv1_relu', 'ReLU'), layer('block_1_add', 'Add'), layer('out_relu', 'ReLU'),
    layer('StatefulPartitionedCall/model_1/conv2d_5/Relu', 'Conv2D', true), layer('odd_default', 'Add'),
  ];
  const featured = featureLayers(layers, 'odd_default');
  assert.deepEqual(featured, ['Conv1', 'Conv1_relu', 'out_relu', 'StatefulPartitionedCall/model_1/conv2d_5/Relu', 'odd_default']);
  const all = layers.slice(1).map((l) => l.name);
  assert.deepEqual(visibleLayers({ all, featured, selected: undefined }, false, ''), featured);
  assert.deepEqual(visibleLayers({ all, featured, selected: 'block_1_add' }, false, ''), all.filter((n) => featured.includes(n) || n === 'block_1_add'),
    'the selected layer stays listed');
  assert.deepEqual(visibleLayers({ all, featured, selected: undefined }, true, ''), all);
  assert.deepEqual(visibleLayers({ all, featured, selected: undefined }, false, 'RELU'), ['Conv1_relu', 'out_relu', 'StatefulPartitionedCall/model_1/conv2d_5/Relu']);
  assert.deepEqual(visibleLayers({ all, featured, selected: undefined }, true, 'model_1/conv2d'), ['StatefulPartitionedCall/model_1/conv2d_5/Relu'], 'the full name matches too');
  assert.deepEqual(visibleLayers({ all, featured, selected: undefined }, false, 'conv2d_5/relu'), ['StatefulPartitionedCall/model_1/conv2d_5/Relu']);
});
