// Host text for PyTorch (ONNX) models: shapes in the user's layout, module paths, model names by file,
// lens titles and hovers for lines that stand for several layers. Expected strings written by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RankedDefinition } from '../src/host/codeIndex';
import { lensTitle, lineMarkdown, type LinkedLayer } from '../src/host/codeLinks/lineText';
import { codeLensTitle, codeName, layerMarkdown, layerSummary, layoutNote, modelLabel, modelSummary, moduleCall, shortModelName, userShape } from '../src/host/format';
import { isFromWebview } from '../src/protocol/webview';
import type { LayerInfo, ModelDescription } from '../src/protocol/types';

// layer1.0.conv2 of a ResNet-18: 64 3×3 filters over 64 channels, no bias (folded BN adds 64): 64·64·9 + 64.
const conv: LayerInfo = { name: 'layer1.0.conv2', className: 'Conv', outputShape: [56, 56, 64], params: 64 * 64 * 9 + 64, isConv: true, inputs: ['layer1.0.relu'] };
const relu: LayerInfo = { name: 'layer1.0.relu', className: 'Relu', outputShape: [56, 56, 64], params: 0, isConv: false, inputs: [], sourceName: 'layer1.0.relu' };
const relu2: LayerInfo = { ...relu, name: 'layer1.0.relu#2' };
const fc: LayerInfo = { name: 'fc', className: 'Gemm', outputShape: [10], params: 5130, isConv: false, inputs: [] };

const model = (layout: ModelDescription['layout']): ModelDescription => ({
  path: '/w/pytorch/model.onnx', format: 'onnx', name: 'pytorch/model.onnx', inputShape: [224, 224, 3], numClasses: 10, head: 'logits',
  layers: [conv, relu, relu2, fc], cam: { available: false, reason: '' }, labels: [], totalParams: 11_181_642,
  preprocessing: { range: [0, 1], mean: [0], std: [1], channels: 'rgb' }, layout,
});

test('shapes are [H, W, C] in descriptions and shown [C, H, W] for PyTorch models, saying so', () => {
  assert.deepEqual(userShape([56, 56, 64], 'NCHW'), [64, 56, 56]);
  assert.deepEqual(userShape([56, 56, 64], 'NHWC'), [56, 56, 64]);
  assert.deepEqual(userShape([10], 'NCHW'), [10]);
  assert.equal(layoutNote('NCHW'), 'shapes as C×H×W');
  assert.equal(layerSummary(conv, 'NCHW'), 'Conv · 64×56×56 · 36,928 params');
  assert.equal(layerSummary(conv), 'Conv · 56×56×64 · 36,928 params');
  assert.equal(codeLensTitle(conv, 'NCHW'), 'Loupe: layer1.0.conv2 · Conv · 64×56×56 · 36,928 params');
  assert.equal(modelSummary(model('NCHW')), 'pytorch/model.onnx · 3×224×224 → 10 classes · 11,181,642 params (onnx model, shapes as C×H×W)');
  assert.equal(modelSummary(model('NHWC')), 'pytorch/model.onnx · 224×224×3 → 10 classes · 11,181,642 params (onnx model)');
  const md = layerMarkdown(relu2, model('NCHW'));
  assert.match(md, /- output: 64×56×56 \(C×H×W\)/);
  assert.match(md, /- call 2 of module layer1\\\.0\\\.relu/);
});

test('a reused module\'s later call is named by the engine with #N and shares the module path', () => {
  assert.equal(codeName(relu2), 'layer1.0.relu');
  assert.equal(codeName(conv), 'layer1.0.conv2');
  assert.equal(moduleCall(relu2), 'call 2 of module layer1.0.relu');
  assert.equal(moduleCall(relu), undefined);
  assert.equal(moduleCall({ name: 'x', sourceName: 'block.x' }), 'module block.x');
});

test('models that are not model.json are named by their file and folder', () => {
  assert.equal(shortModelName('demo/pytorch/model.onnx'), 'pytorch/model.onnx');
  assert.equal(shortModelName('model.onnx'), 'model.onnx');
  assert.equal(shortModelName('runs/resnet/export/model.onnx'), 'resnet/export/model.onnx');
  assert.equal(shortModelName('keras/classifier.h5'), 'keras/classifier.h5');
  assert.equal(shortModelName('demo/pytorch/checkpoint.pt'), 'pytorch/checkpoint.pt');
  assert.equal(shortModelName('demo/digits/model/model.json'), 'digits/model');
  assert.equal(modelLabel('demo/pytorch/model.onnx'), 'pytorch/model.onnx');
  // Named by its folder as the Models view lists it, never by the name inside the file (issue 12).
  assert.equal(modelLabel('demo/shapes/model/model.json'), 'shapes/model');
});

const ranked = (caveat?: string, library?: string): RankedDefinition => ({
  definition: {
    name: 'x', file: '/w/blocks.py', line: 20, column: 21, nameLine: 20, nameColumn: 13, framework: 'pytorch', className: 'Conv2d',
    trail: ['ResNet (model.py:7)', 'layer1: self.layer1 in ResNet → nn.Sequential of 2 elements'],
    ...(caveat ? { caveat } : {}), ...(library ? { library } : {}),
  },
  score: 2999, tier: 3, reason: 'export.py exports the model: torch.onnx.export("model.onnx") on line 12 names pytorch/model.onnx',
});

test('lens titles: one layer as for TF.js; a reused module; a block line for many stages; a library model', () => {
  const one: LinkedLayer[] = [{ layer: conv, ranked: ranked() }];
  assert.equal(lensTitle(one, 'NCHW'), 'Loupe: layer1.0.conv2 · Conv · 64×56×56 · 36,928 params');
  assert.equal(lensTitle([{ layer: relu, ranked: ranked() }, { layer: relu2, ranked: ranked() }], 'NCHW'), 'Loupe: layer1.0.relu (2 calls) · Relu · 64×56×56 · 0 params');
  const stages = ['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0'].map((s) => ({ layer: { ...conv, name: `${s}.conv2` }, ranked: ranked() }));
  assert.equal(lensTitle(stages, 'NCHW'), 'Loupe: 5 modules: layer1.0.conv2, layer1.1.conv2, layer2.0.conv2, … · Conv');
  const adds = ['layer1', 'layer2'].map((s) => ({ layer: { ...conv, name: `${s}/Add`, className: 'Add', params: 0 }, ranked: ranked() }));
  assert.equal(lensTitle(adds, 'NCHW'), 'Loupe: 2 layers: layer1/Add, layer2/Add · Add');
  const inside = [conv, fc].map((layer) => ({ layer, ranked: ranked('… is defined inside torchvision', 'torchvision.models.resnet18') }));
  assert.equal(lensTitle(inside, 'NCHW'), 'Loupe: 2 layers inside torchvision.models.resnet18');
  assert.equal(lensTitle([{ layer: conv, ranked: ranked('[1] may be A or B') }], 'NCHW'), 'Loupe: 1 layer Loupe could not follow past this line');
  assert.equal(lensTitle([one[0]!, { layer: fc, ranked: ranked('stops') }], 'NCHW'), 'Loupe: layer1.0.conv2 · Conv · 64×56×56 · 36,928 params · +1 not followed further');
});

test('hovers: the layer and how its path was followed, or the layers a line stands for and why it stops there', () => {
  const m = model('NCHW');
  const single = lineMarkdown([{ layer: conv, ranked: ranked() }], m);
  assert.match(single, /^\*\*layer1\\\.0\\\.conv2\*\* · Conv in model/);
  assert.match(single, /Module path `layer1\.0\.conv2`, as Loupe followed it:\n\n- ResNet \\\(model\\\.py:7\\\)\n- layer1: self\\\.layer1 in ResNet/);
  assert.match(single, /_Linked because_ export\\\.py exports the model: torch\\\.onnx\\\.export\\\("model\\\.onnx"\\\) on line 12/);
  const library = lineMarkdown([conv, fc].map((layer) => ({ layer, ranked: ranked('layer1.0.conv2 is defined inside torchvision: this line builds the model with torchvision.models.resnet18(…)', 'torchvision.models.resnet18') })), m);
  assert.match(library, /^\*\*2 layers\*\* of model pytorch\/model\\\.onnx link to this line \(shapes as C×H×W\):\n\n- `layer1\.0\.conv2` · Conv · 64×56×56 · 36,928 params \(stops here\)\n- `fc` · Gemm · 10 · 5,130 params \(stops here\)/);
  assert.match(library, /\*\*Why this line:\*\*[^\n]*\n\n- layer1\\\.0\\\.conv2 is defined inside torchvision: this line builds the model with torchvision\\\.models\\\.resnet18\\\(…\\\)/);
});

test('the Explain panel may ask for loupe.json; nothing else rides on that message', () => {
  assert.equal(isFromWebview({ type: 'createSidecar' }), true);
  assert.equal(isFromWebview({ type: 'createSidecar', path: '/etc/passwd' }), false);
});
