// The ONNX Runtime accelerator against the wasm engine, whose maps the other tests check against finite
// differences, closed forms, hand-derived rules and PyTorch: every method (and the sanity check) on every
// test model, the same numbers to 1e-4. Together the two show the accelerator's maps are the oracles' too.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { sessionsToKeep } from '../src/engine/backends/onnxruntime/ortPasses';
import { compileProgram } from '../src/engine/backends/onnxruntime/programs';
import { Engine } from '../src/engine/engine';
import type { MethodId } from '../src/protocol/types';
import { relativeError } from './helpers/context';
import { buildCoverageModel, buildFusableModel, randomImage, saveModel, seedWeights } from './helpers/models';

const ALL: MethodId[] = ['gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop', 'deconvnet',
  'cam', 'gradcam', 'guided-gradcam', 'occlusion'];
const DEMO = path.join(__dirname, '..', 'demo');

let ortEngine: Engine;
let wasmEngine: Engine;

before(async () => {
  ortEngine = await Engine.create({ backend: 'onnxruntime' });
  wasmEngine = await Engine.create({ backend: 'wasm', lanes: 1 });
});

/** Max pooling (padded and not), valid average pooling, global max pooling, ReLU and a strided dilated conv. */
function buildPoolingModel(): tf.LayersModel {
  const input = tf.input({ shape: [17, 16, 3], name: 'image' });
  let x = tf.layers.conv2d({ name: 'c1', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'mp_same', poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.maxPooling2d({ name: 'mp_valid', poolSize: 2, strides: 1, padding: 'valid' }).apply(a) as tf.SymbolicTensor;
  const c = tf.layers.averagePooling2d({ name: 'ap_valid', poolSize: 2, strides: 2, padding: 'valid' }).apply(b) as tf.SymbolicTensor;
  const d = tf.layers.conv2d({ name: 'c3', filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }).apply(b) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([c, tf.layers.zeroPadding2d({ name: 'pad', padding: [[0, 1], [0, 0]] }).apply(d) as tf.SymbolicTensor]);
  const gmp = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(cat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 5 }).apply(gmp) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'pooling' });
  seedWeights(model, 3, 0.5);
  return model;
}

/**
 * First-layer strided convolutions from 3 channels, whose input gradient ONNX Runtime computes by stride phases
 * (backward.ts densePhases): 7×7 'same' on an odd-sized input (asymmetric pads), 5×5 and 4×4 'valid'; and a 3×3 'same',
 * whose phases would waste taps, by ConvTranspose.
 */
function buildStemModel(): tf.LayersModel {
  const input = tf.input({ shape: [23, 21, 3], name: 'image' });
  const stems = [[7, 'same'], [5, 'valid'], [4, 'valid'], [3, 'same']].map(([k, padding]) => {
    const c = tf.layers.conv2d({ name: `stem${k}`, filters: 8, kernelSize: k as number, strides: 2, padding: padding as 'same' | 'valid', activation: 'relu' });
    return tf.layers.globalAveragePooling2d({ name: `gap${k}` }).apply(c.apply(input)) as tf.SymbolicTensor;
  });
  const out = tf.layers.dense({ name: 'logits', units: 4 }).apply(tf.layers.concatenate({ name: 'cat' }).apply(stems)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'stems' });
  seedWeights(model, 5, 0.5);
  return model;
}

/**
 * Strided depthwise layers, whose input gradient ONNX Runtime computes as a stride-1 convolution of dy spread out with
 * zeros (backward.ts depthwiseZeroFilled): 'same' on odd and even sizes (asymmetric pads), 'valid' leaving rows no
 * window reads, stride 3, a 4×4 kernel, a depth multiplier.
 */
function buildDepthwiseStridesModel(): tf.LayersModel {
  const input = tf.input({ shape: [23, 20, 3], name: 'image' });
  const x = tf.layers.conv2d({ name: 'c0', filters: 6, kernelSize: 1, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const layers: [number, number, 'same' | 'valid', number][] = [[3, 2, 'same', 1], [3, 2, 'valid', 1], [5, 3, 'same', 1], [4, 2, 'valid', 2], [2, 2, 'same', 1]];
  const branches = layers.map(([k, s, padding, depthMultiplier], i) => {
    const d = tf.layers.depthwiseConv2d({ name: `dw${i}`, kernelSize: k, strides: s, padding, depthMultiplier, activation: 'relu6' }).apply(x);
    return tf.layers.globalAveragePooling2d({ name: `gap${i}` }).apply(d) as tf.SymbolicTensor;
  });
  const out = tf.layers.dense({ name: 'logits', units: 4 }).apply(tf.layers.concatenate({ name: 'cat' }).apply(branches)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'dwstrides' });
  seedWeights(model, 9, 0.5);
  return model;
}

async function compare(modelPath: string, label: string, sanity = true): Promise<void> {
  const model = await ortEngine.model(modelPath);
  assert.equal(model.passes.backend, 'onnxruntime', `${label}: ${model.passes.note ?? 'fell back'}`);
  const [h, w] = model.graph.inputShape;
  const image = randomImage(w + 5, h + 3, 7);
  const methods = ALL.filter((m) => m !== 'cam' || model.description.cam.available);
  const options = { methods, sanity, params: { samples: 6, steps: 16 } };
  const [ours, reference] = [await ortEngine.explain(modelPath, image, options), await wasmEngine.explain(modelPath, image, options)];
  assert.equal(ours.summary.backend, 'onnxruntime');
  assert.equal(reference.summary.backend, 'wasm');
  assert.deepEqual(ours.summary.predictions.map((p) => p.index), reference.summary.predictions.map((p) => p.index));
  for (const [i, map] of ours.maps.entries()) {
    const ref = reference.maps[i]!;
    assert.equal(map.summary.method, ref.summary.method);
    assert.ok(ref.data.some((v) => v !== 0), `${label}: ${map.summary.method} is not all zeros`);
    const err = relativeError(map.data, ref.data);
    assert.ok(err <= 1e-4, `${label}: ${map.summary.method} differs from wasm by ${err}`);
    if (sanity) {
      // ρ is undefined when a map is constant (Grad-CAM of a randomised model can be all zero): both or neither.
      const [a, b] = [map.summary.figures.sanitySpearman, ref.summary.figures.sanitySpearman];
      assert.ok(a === b || (a !== undefined && b !== undefined && Math.abs(a - b) <= 1e-3), `${label}: ${map.summary.method} sanity ρ ${a} vs ${b}`);
    }
  }
}

test('coverage model (strided, dilated, depthwise ×2, separable, BN, pad, concat, add, avg pool, softmax head): every map equals wasm', async () => {
  await compare(await saveModel(buildCoverageModel()), 'coverage');
});

test('fused units (conv → BN → ReLU6, depthwise → BN → LeakyReLU, residual, GAP): every map equals wasm', async () => {
  await compare(await saveModel(buildFusableModel()), 'fusable');
});

test('pooling model (max pooling padded and valid, avg pooling, global max, dilated and strided convs, concat): every map equals wasm', async () => {
  await compare(await saveModel(buildPoolingModel()), 'pooling');
});

test('strided first layers (7×7 same on an odd size, 5×5 and 4×4 valid by stride phases, 3×3 by ConvTranspose): every map equals wasm', async () => {
  const file = await saveModel(buildStemModel());
  const model = await ortEngine.model(file);
  const program = onnx.ModelProto.decode(compileProgram(model.graph, model.graph.weights, { kind: 'class', rule: 'standard', target: 'logit', taps: [] }));
  const count = (type: string) => program.graph!.node!.filter((n) => n.opType === type).length;
  assert.equal(count('DepthToSpace'), 3, '7×7, 5×5 and 4×4 stems by phases');
  assert.equal(count('ConvTranspose'), 1, 'the 3×3 stem by ConvTranspose');
  await compare(file, 'stems');
});

test('strided depthwise layers (same on odd and even sizes, valid, stride 3, 4×4, multiplier 2) by zero-spread dy: every map equals wasm', async () => {
  const file = await saveModel(buildDepthwiseStridesModel());
  const model = await ortEngine.model(file);
  const program = onnx.ModelProto.decode(compileProgram(model.graph, model.graph.weights, { kind: 'class', rule: 'standard', target: 'logit', taps: [] }));
  const spreads = program.graph!.node!.filter((n) => n.opType === 'ConvTranspose'
    && n.attribute!.find((a) => a.name === 'kernel_shape')!.ints!.every((k) => Number(k) === 1));
  assert.equal(spreads.length, 5, 'each strided depthwise layer spreads dy with a 1×1 ConvTranspose');
  assert.equal(program.graph!.node!.filter((n) => n.opType === 'DepthToSpace').length, 0);
  await compare(file, 'depthwise strides');
});

test('sessions kept per model follow its weights: ResNet18 keeps the CLI\'s 6 programs, VGG16 the forward and one gradient', () => {
  assert.equal(sessionsToKeep(11.7e6 * 4), 6);
  assert.equal(sessionsToKeep(3.5e6 * 4), 6);
  assert.equal(sessionsToKeep(138e6 * 4), 2);
  assert.equal(sessionsToKeep(60e6 * 4), 2); // 240 MB: 1.2 GiB / 960 MB
  assert.equal(sessionsToKeep(25e6 * 4), 3); // ResNet50-sized
});

test('the demo models: every map equals wasm', async () => {
  await compare(path.join(DEMO, 'shapes', 'model', 'model.json'), 'shapes', false);
  await compare(path.join(DEMO, 'digits', 'model', 'model.json'), 'digits', false);
  await compare(path.join(DEMO, 'pytorch', 'model.onnx'), 'pytorch (onnx)', false);
});

test('a model ONNX Runtime cannot differentiate runs on wasm, and says which activation and why', async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const x = tf.layers.conv2d({ name: 'c', filters: 4, kernelSize: 3, activation: 'gelu' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 2 }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
  const file = await saveModel(tf.model({ inputs: input, outputs: out }));
  const model = await ortEngine.model(file);
  assert.equal(model.passes.backend, 'wasm');
  assert.match(model.passes.note!, /ONNX Runtime cannot run this model \(the gradient of the 'gelu' activation\)/);
  assert.ok(model.description.notes?.some((n) => /gelu/.test(n)), 'the description carries the note');
  const result = await ortEngine.explain(file, randomImage(8, 8, 1), { methods: ['gradient'] });
  assert.equal(result.summary.backend, 'wasm');
  assert.equal(result.maps[0]!.summary.backend, 'wasm');
});
