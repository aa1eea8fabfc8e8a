// Names people recognise for converted graph models (issue 12), on a real tfjs-converter graph model
// (test/fixtures/graph-model: nsfwjs's MobileNetV2Mid, converted by TensorFlow.js Converter v1.7.4, not by
// Loupe). Oracle: the op names in the converter's own model.json, read here as plain JSON.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { Engine } from '../src/engine/engine';
import { displayLayerName, kerasLayerOfOpPath } from '../src/protocol/layerNames';
import type { LayerInfo, ModelDescription } from '../src/protocol/types';
import { LayerIndex } from '../src/host/codeIndex';
import { codeLayerRefs, codeName, layerMarkdown, layerPickItem, modelLabel } from '../src/host/format';

const DIR = path.resolve('test/fixtures/graph-model');
const MODEL = path.join(DIR, 'nsfwjs-mobilenet_v2_mid', 'model.json');
const PREFIX = 'StatefulPartitionedCall/sequential/';

test('display names: tracer wrappers and the model scope dropped; other names kept', () => {
  assert.equal(displayLayerName('StatefulPartitionedCall/model_1/conv2d_5/Conv2D'), 'conv2d_5/Conv2D');
  assert.equal(displayLayerName('StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/Conv/Relu6'),
    'keras_layer/predict/MobilenetV2/Conv/Relu6');
  assert.equal(displayLayerName('PartitionedCall/model/dense/BiasAdd'), 'dense/BiasAdd');
  for (const kept of ['conv2d_5', 'layer1.0.conv1', '/layer1/layer1.0/conv1/Conv', 'Identity', 'StatefulPartitionedCall', 'StatefulPartitionedCall/model_1']) {
    assert.equal(displayLayerName(kept), kept, kept);
  }
  assert.equal(kerasLayerOfOpPath('StatefulPartitionedCall/model_1/conv2d_5/BiasAdd'), 'conv2d_5');
  assert.equal(kerasLayerOfOpPath('StatefulPartitionedCall/model_1/Relu'), undefined, 'an op in the model scope has no layer');
  assert.equal(kerasLayerOfOpPath('model_1/conv2d_5/Conv2D'), undefined, 'without the tracer wrapper the path is not known to be Keras');
  assert.equal(kerasLayerOfOpPath('Identity'), undefined);
});

test('quick picks: the display name, the full name as detail only when it differs', () => {
  assert.deepEqual(layerPickItem({ name: 'StatefulPartitionedCall/model_1/conv2d_5/Relu' }, 'Grad-CAM default'),
    { label: 'conv2d_5/Relu', detail: 'StatefulPartitionedCall/model_1/conv2d_5/Relu · Grad-CAM default' });
  assert.deepEqual(layerPickItem({ name: 'conv1' }), { label: 'conv1' });
  assert.deepEqual(layerPickItem({ name: 'conv1' }, 'Grad-CAM default'), { label: 'conv1', detail: 'Grad-CAM default' });
});

test('models are named by their folder or file, never by the name inside the file', () => {
  assert.equal(modelLabel('fixtures/graph-model/nsfwjs-mobilenet_v2_mid/model.json'), 'nsfwjs-mobilenet_v2_mid');
  assert.equal(modelLabel('runs/resnet18/model/model.json'), 'resnet18/model');
  assert.equal(modelLabel('demo/pytorch/model.onnx'), 'pytorch/model.onnx');
});

describe('a real converter-produced graph model', () => {
  let description: ModelDescription;
  const converterOps = (JSON.parse(fs.readFileSync(MODEL, 'utf8')) as { modelTopology: { node: { name: string; op: string }[] } })
    .modelTopology.node.filter((n) => n.op !== 'Const');

  before(async () => {
    const engine = await Engine.create({ backend: 'wasm' });
    description = await engine.describe(MODEL);
  });

  test('the converter wrote op paths (the fixture is what the issue describes)', () => {
    const json = JSON.parse(fs.readFileSync(MODEL, 'utf8')) as { format: string; convertedBy: string };
    assert.equal(json.format, 'graph-model');
    assert.match(json.convertedBy, /TensorFlow\.js Converter/);
    assert.ok(converterOps.filter((n) => n.name.startsWith(PREFIX)).length > 50);
  });

  test('every layer under the Keras model links through the Keras layer inside its op path; display drops the prefix', () => {
    const byName = new Map(description.layers.map((l) => [l.name, l]));
    let checked = 0;
    for (const op of converterOps) {
      const layer = byName.get(op.name);
      if (!layer) continue; // fused into its producer by the loader (BatchNorm into conv)
      if (!op.name.startsWith(PREFIX)) {
        assert.equal(layer.sourceName, undefined, op.name);
        assert.equal(displayLayerName(layer.name), layer.name);
        continue;
      }
      // Independent of layerNames.ts: the segment after "StatefulPartitionedCall/sequential/".
      const keras = op.name.slice(PREFIX.length).split('/')[0];
      assert.equal(layer.sourceName, keras, op.name);
      assert.equal(codeName(layer), keras);
      const shown = displayLayerName(layer.name);
      assert.ok(!shown.includes('StatefulPartitionedCall'), shown);
      assert.ok(shown.startsWith(`${keras}/`), shown);
      assert.ok(op.name.endsWith(shown.split('/').pop()!), `${shown} keeps the op's own name`);
      checked++;
    }
    assert.ok(checked > 50, `checked ${checked} layers`);
    assert.deepEqual([...new Set(description.layers.map((l) => l.sourceName).filter(Boolean))], ['keras_layer', 'dense', 'prediction']);
  });

  test('hovers show the short name, the full name and the Keras layer', () => {
    const conv = description.layers.find((l) => l.name.endsWith('/MobilenetV2/Conv/Relu6'))!;
    const md = layerMarkdown(conv, { name: 'nsfwjs-mobilenet_v2_mid', defaultCamLayer: description.defaultCamLayer });
    assert.match(md, /^\*\*keras\\_layer\/predict\/MobilenetV2\/Conv\/Relu6\*\*/);
    assert.match(md, /full name: StatefulPartitionedCall\/sequential/);
    assert.match(md, /Keras layer keras\\_layer/);
  });

  test('code links: "prediction" by its name=, "dense" by Keras creation order, through the op paths', () => {
    const index = new LayerIndex();
    const script = path.join(DIR, 'train.py');
    const text = fs.readFileSync(script, 'utf8');
    index.update(script, text);
    const context = { modelPath: MODEL, workspaceRoot: DIR, modelLayers: codeLayerRefs(description.layers), frameworks: ['tfjs', 'keras'] as const };
    const lineOf = (needle: string): number => text.split('\n').findIndex((l) => l.includes(needle));
    const dense = description.layers.find((l) => l.name === `${PREFIX}dense/BiasAdd`)!;
    const prediction = description.layers.find((l) => l.name === `${PREFIX}prediction/Softmax`)!;
    const hub = description.layers.find((l) => l.name.endsWith('/MobilenetV2/Conv/Relu6'))!;
    assert.equal(index.rank(codeName(dense), { ...context, frameworks: [...context.frameworks] })[0]?.definition.line, lineOf('layers.Dense(num_classes)'));
    assert.equal(index.rank(codeName(prediction), { ...context, frameworks: [...context.frameworks] })[0]?.definition.line, lineOf('name="prediction"'));
    assert.equal(index.rank(codeName(hub), { ...context, frameworks: [...context.frameworks] })[0]?.definition.line, lineOf('name="keras_layer"'));
    // The op path itself is never a name in the code.
    assert.equal(index.rank(dense.name, { ...context, frameworks: [...context.frameworks] }).length, 0);
  });
});

test('creation order through op paths: fused ops, a Flatten kept as Reshape, a Dropout the converter dropped', () => {
  // The ops tfjs-converter keeps for a Keras functional model (conv + ReLU fused, Flatten as Reshape, no Dropout),
  // named as it names them; the script creates every layer without name=.
  const op = (path: string, className: string): LayerInfo => ({
    name: `StatefulPartitionedCall/model_1/${path}`, className, isConv: className === 'Conv2D', outputShape: [], params: 0, inputs: [],
    sourceName: path.split('/')[0]!,
  });
  const layers: LayerInfo[] = [
    { name: 'input_1', className: 'InputLayer', isConv: false, outputShape: [28, 28, 1], params: 0, inputs: [] },
    op('conv2d_4/Relu', 'Conv2D'), op('max_pooling2d_2/MaxPool', 'MaxPooling2D'), op('conv2d_5/Relu', 'Conv2D'),
    op('max_pooling2d_3/MaxPool', 'MaxPooling2D'), op('flatten_1/Reshape', 'Reshape'), op('dense_2/Relu', 'Dense'), op('dense_3/BiasAdd', 'Dense'),
  ];
  const text = [
    'from tensorflow import keras',
    'from tensorflow.keras import layers',
    'def build_model():',
    '    inputs = keras.Input(shape=(28, 28, 1))',
    '    x = layers.Conv2D(32, 3, activation="relu")(inputs)',
    '    x = layers.MaxPooling2D()(x)',
    '    x = layers.Conv2D(64, 3, activation="relu")(x)',
    '    x = layers.MaxPooling2D()(x)',
    '    x = layers.Flatten()(x)',
    '    x = layers.Dropout(0.5)(x)',
    '    x = layers.Dense(128, activation="relu")(x)',
    '    outputs = layers.Dense(10)(x)',
    '    return keras.Model(inputs, outputs)',
    'model = build_model()',
  ].join('\n');
  const index = new LayerIndex();
  const script = path.resolve('/ws/train.py');
  index.update(script, text);
  const context = { modelPath: path.resolve('/ws/model/model.json'), workspaceRoot: path.resolve('/ws'), modelLayers: codeLayerRefs(layers), frameworks: ['tfjs' as const, 'keras' as const] };
  const lineOf = (layer: LayerInfo): number | undefined => index.rank(codeName(layer), context)[0]?.definition.line;
  const lines = text.split('\n');
  const nth = (needle: string, n: number): number => lines.map((l, i) => (l.includes(needle) ? i : -1)).filter((i) => i >= 0)[n]!;
  assert.equal(lineOf(layers[1]!), nth('layers.Conv2D(', 0));
  assert.equal(lineOf(layers[3]!), nth('layers.Conv2D(', 1));
  assert.equal(lineOf(layers[4]!), nth('layers.MaxPooling2D(', 1));
  assert.equal(lineOf(layers[5]!), nth('layers.Flatten(', 0));
  assert.equal(lineOf(layers[7]!), nth('layers.Dense(', 1));
});
