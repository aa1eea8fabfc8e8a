/**
 * Issue 13, part 1: model graphs and shapes are checked before anything reaches TF.js. Each test
 * reproduces a fault of the issue (hangs, gigabytes allocated, a wasm module corrupted) with a small
 * hand-edited model.json, and checks the refusal names the layer — and that the engine that refused
 * it still explains a good model exactly as before (nothing was poisoned).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import { layersToGraph } from '../scripts/layersToGraph';
import { saveModel, tempDir } from './helpers/models';
import { randomPng } from './workerFixtures';

let layers: string;
let graph: string;
let image: string;
let engine: Engine;
let reference: Float32Array;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests damage model.json anywhere
type Json = Record<string, any>;

before(async () => {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  let x = tf.layers.conv2d({ name: 'c1', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'c2', filters: 4, kernelSize: 3, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 2 }).apply(x) as tf.SymbolicTensor;
  layers = await saveModel(tf.model({ inputs: input, outputs: out }));
  graph = await layersToGraph(layers, path.join(tempDir('loupe-trust-graph-'), 'graph'));
  image = path.join(tempDir('loupe-trust-img-'), 'x.png');
  fs.writeFileSync(image, randomPng(8, 8, 4));
  engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  reference = (await engine.explain(layers, image, { methods: ['gradient'], classIndex: 1 })).maps[0]!.data;
});

/** A copy of `model` (its folder) with model.json edited. */
function edited(model: string, edit: (json: Json) => void): string {
  const dir = tempDir('loupe-trust-');
  fs.cpSync(path.dirname(model), dir, { recursive: true });
  const file = path.join(dir, path.basename(model));
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

const layerList = (j: Json): Json[] => j.modelTopology.config.layers;
const layerNamed = (j: Json, name: string): Json => layerList(j).find((l) => l.name === name)!;
const nodeNamed = (j: Json, name: string): Json => j.modelTopology.node.find((n: Json) => n.name === name)!;

async function refused(model: string, code: string | RegExp, pattern: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(engine.describe(model), (e: unknown) => {
    assert.ok(e instanceof LoupeError, `not a LoupeError: ${(e as Error)?.stack ?? e}`);
    if (typeof code === 'string') assert.equal(e.code, code, e.message);
    else assert.match(e.code, code);
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(model), `names the file: ${e.message}`);
    return true;
  });
  assert.ok(Date.now() - started < 10_000, 'refused promptly, not after a long computation');
}

test('Layers graphs: a cycle, a missing layer, a duplicate name and a node index out of range are refused naming the layer (they hung)', async () => {
  await refused(edited(layers, (j) => { layerNamed(j, 'c1').inbound_nodes[0][0][0] = 'c2'; }), 'MODEL_INVALID', /cycle: .*'c1'.*'c2'|cycle: .*'c2'.*'c1'/);
  await refused(edited(layers, (j) => { layerNamed(j, 'c2').inbound_nodes[0][0][0] = 'ghost'; }), 'MODEL_INVALID', /layer 'c2': refers to the layer 'ghost'/);
  await refused(edited(layers, (j) => { const c2 = layerNamed(j, 'c2'); c2.name = 'c1'; c2.config.name = 'c1'; }), 'MODEL_INVALID', /two layers are named 'c1'/);
  await refused(edited(layers, (j) => { layerNamed(j, 'gap').inbound_nodes[0][0][1] = 3; }), 'MODEL_INVALID', /layer 'gap': refers to node 3 of 'c2', which has 1 node/);
  // Found by the fuzzer: a layer whose config names it like another one (tfjs-layers then never finished).
  await refused(edited(layers, (j) => { layerNamed(j, 'c1').config.name = 'c2'; }), 'MODEL_INVALID', /layer 'c1' is named 'c2' in its config/);
  await refused(edited(layers, (j) => { layerNamed(j, 'c2').inbound_nodes = [[]]; }), 'MODEL_INVALID', /layer 'c2' has an inbound node that reads no layer/);
});

test('input dims 0, -5 and 64.5 are refused with a message, not a stack trace', async () => {
  for (const bad of [0, -5, 64.5]) {
    await refused(edited(layers, (j) => { layerList(j)[0]!.config.batch_input_shape[1] = bad; }), 'UNSUPPORTED_MODEL', /not \[height, width, channels\] of positive integers/);
  }
});

test('a 4000×4000 input is refused from its declared shapes before any activation is allocated', async () => {
  const rss = process.memoryUsage().rss;
  await refused(edited(layers, (j) => { layerList(j)[0]!.config.batch_input_shape = [null, 4000, 4000, 3]; }), 'UNSUPPORTED_MODEL',
    /activations up to layer 'c\d' need more than 512 MB/);
  assert.ok(process.memoryUsage().rss - rss < 700 * 1024 ** 2, 'no gigabytes allocated');
});

test('a Dense layer declaring 8 million units is refused before tfjs-layers allocates its kernel', async () => {
  const rss = process.memoryUsage().rss;
  await refused(edited(layers, (j) => { layerNamed(j, 'fc').config.units = 8_000_000; }), 'WEIGHTS_INVALID', /layer 'fc' \(Dense\) declares 8000000 units but its kernel .* \[4, 2\]/);
  const renamed = edited(layers, (j) => {
    layerNamed(j, 'fc').config.units = 8_000_000;
    for (const w of j.weightsManifest[0].weights) w.name = w.name.replace(/^fc\//, 'other/');
  });
  await refused(renamed, 'MODEL_INVALID', /declares 8000000 units, more than the \d+ numbers the weights manifest holds/);
  assert.ok(process.memoryUsage().rss - rss < 700 * 1024 ** 2, 'no gigabytes allocated');
});

test('a 1×1 input under a 3×3 valid convolution, and zero or huge strides, are refused naming the layer (they corrupted the wasm module)', async () => {
  await refused(edited(layers, (j) => { layerList(j)[0]!.config.batch_input_shape = [null, 1, 1, 3]; }), 'MODEL_INVALID', /layer 'c2' would output the shape \[-?\d+, -?\d+, 4\]/);
  await refused(edited(layers, (j) => { layerNamed(j, 'c2').config.strides = [0, 1]; }), 'MODEL_INVALID', /layer 'c2' \(Conv2D\) has strides \[0,1\]/);
  await refused(edited(layers, (j) => { layerNamed(j, 'c2').config.strides = [-2, -2]; }), 'MODEL_INVALID', /layer 'c2' \(Conv2D\) has strides/);
  await refused(edited(layers, (j) => { layerNamed(j, 'c2').config.strides = [100000, 1]; }), 'MODEL_INVALID', /from 1 to 4096/);
});

test('Graph models: stride 0, a negative stride, too-short explicit padding, duplicate names, a cycle and a missing input are refused naming the node', async () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await refused(edited(graph, (j) => { nodeNamed(j, 'c2').attr.strides = { list: { i: ['1', '0', '1', '1'] } }; }), 'MODEL_INVALID', /node 'c2' has window 3×3, strides 0×1/);
  await refused(edited(graph, (j) => { nodeNamed(j, 'c2').attr.strides = { list: { i: ['1', '-2', '-2', '1'] } }; }), 'MODEL_INVALID', /node 'c2' has window .*strides -2×-2/);
  await refused(edited(graph, (j) => {
    const c2 = nodeNamed(j, 'c2');
    c2.attr.padding = { s: b64('EXPLICIT') };
    c2.attr.explicit_paddings = { list: { i: ['0', '0', '1', '1'] } };
  }), 'MODEL_INVALID', /graph node 'c2' has explicit_paddings \[0, 0, 1, 1\]: it needs 8/);
  await refused(edited(graph, (j) => { nodeNamed(j, 'c2').name = 'c1'; }), 'MODEL_INVALID', /two graph nodes are named 'c1'/);
  await refused(edited(graph, (j) => { nodeNamed(j, 'c1').input[0] = 'c2'; }), 'MODEL_INVALID', /the graph has a cycle: .*'c1'/);
  await refused(edited(graph, (j) => { nodeNamed(j, 'c2').input[0] = 'ghost:0'; }), 'MODEL_INVALID', /graph node 'c2' reads 'ghost'/);
  // Found by the fuzzer: a kernel in the bias's place broadcast the batch into 4 rows, and class 7 of 2 was picked.
  await refused(edited(graph, (j) => { const fc = j.modelTopology.node.find((n: Json) => n.op === '_FusedMatMul'); fc.input[2] = fc.input[1]; }), 'MODEL_INVALID',
    /node '.*' has a bias '.*kernel' of shape \[4, 2\] for 2 outputs/);
});

test('a graph whose nodes are listed out of order still loads (the file promises no order)', async () => {
  const shuffled = edited(graph, (j) => { j.modelTopology.node.reverse(); });
  const d = await engine.describe(shuffled);
  assert.equal(d.numClasses, 2);
});

test('a NaN or an infinity in the weights is refused at load, naming the tensor (it gave all-NaN maps and exit 0)', async () => {
  for (const [value, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity']] as const) {
    const model = edited(layers, () => undefined);
    const dir = path.dirname(model);
    const shard = path.join(dir, JSON.parse(fs.readFileSync(model, 'utf8')).weightsManifest[0].paths[0]);
    const bytes = fs.readFileSync(shard);
    // The manifest lists c1/kernel first: its 5th number.
    bytes.writeFloatLE(value, 16);
    fs.writeFileSync(shard, bytes);
    await refused(model, 'WEIGHTS_INVALID', new RegExp(`the weight 'c1/kernel' holds ${shown} at index 4`));
  }
});

test('after every refusal above, the same engine explains the good model exactly as before (nothing poisoned)', async () => {
  const again = (await engine.explain(layers, image, { methods: ['gradient'], classIndex: 1 })).maps[0]!.data;
  assert.deepEqual(Array.from(again), Array.from(reference));
  assert.ok(reference.some((v) => v !== 0), 'the reference map is not blank');
});

test('absurd explain parameters are refused by name: samples 1e9, steps 0, negative sizes, unknown methods and layers, a __proto__ key', async () => {
  const cases: Array<[object, RegExp]> = [
    [{ methods: ['smoothgrad'], params: { samples: 1e9 } }, /samples must be an integer in \[1, 10000\]/],
    [{ methods: ['ig'], params: { steps: 0 } }, /steps must be an integer in \[1, 10000\]/],
    [{ methods: ['occlusion'], params: { window: -4 } }, /window must be an integer/],
    [{ methods: ['telepathy'] }, /unknown method 'telepathy'/],
    [{ methods: ['gradcam'], layer: 'nope' }, /nope/],
    [{ methods: ['gradient'], params: JSON.parse('{"__proto__": {"samples": 3}}') }, /unknown parameter '__proto__'/],
    [{ methods: ['gradient'], classIndex: -1 }, /class -1 does not exist|classIndex/],
  ];
  for (const [options, pattern] of cases) {
    await assert.rejects(engine.explain(layers, image, options as never), (e: unknown) => {
      assert.ok(e instanceof LoupeError, `not a LoupeError: ${(e as Error)?.stack ?? e}`);
      assert.equal(e.code, 'BAD_REQUEST', e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

test('a map that comes out NaN from finite weights (a batch norm with a negative variance) fails the run naming the model, never returns silently', async () => {
  const input = tf.input({ shape: [6, 6, 3], name: 'image' });
  let x = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' });
  x = bn.apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ name: 'fc', units: 2 }).apply(x) as tf.SymbolicTensor });
  bn.setWeights(bn.getWeights().map((w, i) => (i === 3 ? tf.fill(w.shape, -5) : w)));
  const file = await saveModel(model);
  await assert.rejects(engine.explain(file, image, { methods: ['gradient'], classIndex: 0 }), (e: unknown) => {
    assert.ok(e instanceof LoupeError, String(e));
    assert.equal(e.code, 'MODEL_INVALID');
    assert.match(e.message, /the gradient map holds \d+ non-finite values \(NaN or infinity\)/);
    assert.ok(e.message.includes(file));
    return true;
  });
});
