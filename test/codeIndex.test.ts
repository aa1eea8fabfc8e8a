// The layer-definition index against hand-written sources: every expected line/column below was
// counted from the fixture text, not taken from a run of the code.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { LayerIndex, scanPython, scanTfjs, tfjsClassName } from '../src/host/codeIndex/index';
import { tokenize } from '../src/host/codeIndex/tokens';

const brief = (defs: ReturnType<typeof scanPython>['definitions']) =>
  defs.map((d) => `${d.name} ${d.className} ${d.framework} ${d.line}:${d.column}`);

test('Keras: layers.X, tf.keras.layers.X, imported classes, multi-line calls', () => {
  const src = [
    'import tensorflow as tf',                                    // 0
    'from tensorflow.keras import layers',                        // 1
    'from keras.layers import Dense as D, Flatten',               // 2
    'x = layers.Conv2D(32, 3, name="conv1")(inputs)',             // 3
    "y = tf.keras.layers.Dense(10, name='logits')",               // 4
    'z = layers.MaxPooling2D(',                                   // 5
    '    pool_size=(2, 2),',                                      // 6
    '    name="pool1",',                                          // 7
    ')',                                                          // 8
    'w = D(5, activation="relu", name="dense_a")',                // 9
    'v = Flatten(name="flat")',                                   // 10
  ].join('\n');
  const { definitions } = scanPython('/w/train.py', src);
  assert.deepEqual(brief(definitions), [
    'conv1 Conv2D keras 3:4',
    'logits Dense keras 4:4',
    'pool1 MaxPooling2D keras 5:4',
    'dense_a D keras 9:4',
    'flat Flatten keras 10:4',
  ]);
  const pool = definitions[2]!;
  assert.equal(pool.nameLine, 7);
  assert.equal(pool.nameColumn, 9);
});

test('Keras: names in comments, docstrings and non-layer calls do not match', () => {
  const src = [
    '# layers.Conv2D(8, 3, name="in_comment")',
    '"""Docstring: layers.Dense(1, name="in_docstring")"""',
    "s = 'layers.Dense(1, name=\"in_string\")'",
    'm = tf.keras.Model(inputs, outputs, name="the_model")',
    'q = layers.Dense(4, kernel_initializer=init(name="inner"))',
    'def Dense(name="not_a_call"): pass',
    'r = layers.Dense(2, name=f"dyn_{i}")',
    'ok = layers.Dense(3, name="real")  # name="after"',
  ].join('\n');
  const names = scanPython('/w/a.py', src).definitions.map((d) => d.name);
  assert.deepEqual(names, ['real']);
});

test('Python strings with escaped quotes, raw and triple-quoted strings keep the tokenizer in step', () => {
  const src = [
    's = "he said \\"layers.Dense(1, name=\'x\')\\" ok"',
    "t = r'\\'' ; u = '''a ' b \" c'''",
    'layers.Conv2D(1, 1, name="esc\\"aped")',
  ].join('\n');
  const defs = scanPython('/w/a.py', src).definitions;
  assert.deepEqual(defs.map((d) => [d.name, d.line]), [['esc"aped', 2]]);
});

test('TF.js: tf.layers.x({ name }), multi-line objects, comments, templates, regexes', () => {
  const src = [
    "import * as tf from '@tensorflow/tfjs';",                               // 0
    'const model = tf.sequential();',                                          // 1
    "model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, name: 'conv1' }));", // 2
    'model.add(tf.layers.maxPooling2d({',                                     // 3
    '  poolSize: 2,',                                                         // 4
    '  // name: "commented",',                                                // 5
    '  "name": "pool1",',                                                     // 6
    '}));',                                                                    // 7
    '/* tf.layers.dense({ name: "block" }) */',                               // 8
    'const re = /tf.layers.dense({ name: "re" })/g;',                        // 9
    'const t = `tf.layers.dense({ name: "tpl" })`;',                           // 10
    "model.add(tf.layers.dense({ units: 10, activation: 'softmax', name: `logits` }));", // 11
    'tf.layers.dense({ units: 2, name: `x${i}` });',                          // 12
    "tf.layers.dense({ units: 2, config: { name: 'nested' } });",             // 13
  ].join('\n');
  const defs = scanTfjs('/w/train.ts', src).definitions;
  assert.deepEqual(brief(defs), ['conv1 Conv2D tfjs 2:10', 'pool1 MaxPooling2D tfjs 3:10', 'logits Dense tfjs 11:10']);
  assert.deepEqual([defs[1]!.nameLine, defs[1]!.nameColumn], [6, 10]);
});

test('TF.js class names follow tfjs-layers', () => {
  const cases: Array<[string, string]> = [
    ['conv2d', 'Conv2D'], ['conv2dTranspose', 'Conv2DTranspose'], ['depthwiseConv2d', 'DepthwiseConv2D'],
    ['globalAveragePooling2d', 'GlobalAveragePooling2D'], ['batchNormalization', 'BatchNormalization'],
    ['dense', 'Dense'], ['reLU', 'ReLU'], ['prelu', 'PReLU'], ['lstm', 'LSTM'], ['conv1d', 'Conv1D'],
  ];
  for (const [factory, cls] of cases) assert.equal(tfjsClassName(factory), cls, factory);
});

test('PyTorch: attributes, nested Sequential, OrderedDict, ModuleList, ModuleDict, add_module', () => {
  const src = [
    'import torch',                                                  // 0
    'import torch.nn as tnn',                                        // 1
    'from collections import OrderedDict',                           // 2
    'class Block(tnn.Module):',                                      // 3
    '    def __init__(self):',                                       // 4
    '        super().__init__()',                                    // 5
    '        self.conv = tnn.Conv2d(3, 8, 3)',                       // 6
    'class Net(tnn.Module):',                                        // 7
    '    def __init__(self):',                                       // 8
    '        super().__init__()',                                    // 9
    '        self.features = tnn.Sequential(',                       // 10
    '            tnn.Conv2d(1, 16, 3, padding=1),',                  // 11
    '            tnn.ReLU(),',                                       // 12
    '            tnn.Sequential(tnn.Conv2d(16, 16, 3), Block()),',  // 13
    '        )',                                                     // 14
    '        self.head = tnn.Sequential(OrderedDict([',              // 15
    "            ('fc', tnn.Linear(16, 10)),",                       // 16
    '        ]))',                                                   // 17
    '        self.blocks = tnn.ModuleList([Block(), Block()])',      // 18
    "        self.extra = tnn.ModuleDict({'proj': tnn.Linear(4, 4)})", // 19
    "        self.add_module('late', tnn.BatchNorm2d(16))",          // 20
    '        self.scale = 2.0',                                      // 21
    '        self.act = make_act()',                                 // 22
  ].join('\n');
  const defs = scanPython('/w/net.py', src).definitions;
  const names = defs.map((d) => `${d.name}:${d.className}@${d.line}:${d.column}`);
  assert.deepEqual(names, [
    'conv:Conv2d@6:20',
    'features:Sequential@10:24',
    'features.0:Conv2d@11:12',
    'features.1:ReLU@12:12',
    'features.2:Sequential@13:12',
    'features.2.0:Conv2d@13:27',
    'features.2.1:Block@13:50',
    'head:Sequential@15:20',
    'head.fc:Linear@16:19',
    'blocks:ModuleList@18:22',
    'blocks.0:Block@18:38',
    'blocks.1:Block@18:47',
    'extra:ModuleDict@19:21',
    'extra.proj:Linear@19:45',
    'late:BatchNorm2d@20:32',
  ]);
  assert.ok(defs.every((d) => d.framework === 'pytorch'));
});

test('PyTorch: a module-level nn.Sequential names its children by index; locals do not', () => {
  const src = [
    'from torch import nn',
    'model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))',
    'def build():',
    '    tmp = nn.Sequential(nn.Linear(1, 1))',
    '    return tmp',
  ].join('\n');
  assert.deepEqual(scanPython('/w/m.py', src).definitions.map((d) => `${d.name}:${d.className}`), ['0:Flatten', '1:Linear']);
});

test('tokenizer: operators do not swallow `=`; unterminated strings stop at the line end', () => {
  const toks = tokenize('a == b; c = -1; d := 2\nx = "open\ny = 1', 'python').map((t) => t.text);
  assert.deepEqual(toks, ['a', '==', 'b', ';', 'c', '=', '-', '1', ';', 'd', ':=', '2', 'x', '=', '"open', 'y', '=', '1']);
});

test('index: update, remove, lookup across files; nested PyTorch names through the module tree, never by suffix', () => {
  const index = new LayerIndex();
  index.update('/w/a.py', 'layers.Dense(1, name="fc")');
  index.update('/w/b.ts', "tf.layers.dense({ units: 1, name: 'fc' })");
  index.update('/w/c.py', [
    'class B(nn.Module):',                       // 0
    '    def __init__(self):',                   // 1
    '        self.conv = nn.Conv2d(1, 1, 1)',    // 2
    'class E(nn.Module):',                       // 3
    '    def __init__(self):',                   // 4
    '        self.block1 = B()',                 // 5
    'class M(nn.Module):',                       // 6
    '    def __init__(self):',                   // 7
    '        self.encoder = E()',                // 8
  ].join('\n'));
  index.update('/w/notes.md', 'layers.Dense(1, name="fc")');
  assert.deepEqual(index.lookup('fc').map((d) => d.file).sort(), ['/w/a.py', '/w/b.ts']);
  assert.deepEqual(index.lookup('encoder.block1.conv').map((d) => `${d.file}:${d.line}:${d.column}`), ['/w/c.py:2:20']);
  // No model has `other`: a block's `conv` is not offered as a guess.
  assert.deepEqual(index.lookup('other.block1.conv'), []);
  assert.deepEqual(index.lookup('missing'), []);
  index.update('/w/a.py', 'layers.Dense(1, name="fc2")');
  assert.deepEqual(index.lookup('fc').map((d) => d.file), ['/w/b.ts']);
  index.remove('/w/b.ts');
  assert.deepEqual(index.lookup('fc'), []);
  assert.equal(index.definitionsIn('/w/a.py')[0]!.name, 'fc2');
});

test('ranking: the file that saves the model wins, then one that mentions its folder, then the nearest', () => {
  const root = path.resolve('/ws');
  const modelPath = path.join(root, 'demo/digits/model/model.json');
  const layer = 'layers.Conv2D(8, 3, name="conv1")\n';
  const index = new LayerIndex();
  // Nearest to the model, but never names it.
  index.update(path.join(root, 'demo/digits/experiment.py'), layer);
  // Names the model's folder in a save call, relative to the workspace root (run from there).
  index.update(path.join(root, 'scripts/train_digits.py'),
    layer + 'model.fit(x, y)\ntfjs.converters.save_keras_model(model, "demo/digits/model")\n');
  // Mentions another model's folder in a save call.
  index.update(path.join(root, 'scripts/train_shapes.py'), layer + 'model.save("demo/shapes/model")\n');
  let ranked = index.rank('conv1', { modelPath, workspaceRoot: root });
  assert.equal(ranked[0]!.definition.file, path.join(root, 'scripts/train_digits.py'));
  assert.match(ranked[0]!.reason, /saves the model: tfjs\.converters\.save_keras_model\("demo\/digits\/model"\) on line 3/);
  assert.equal(ranked[1]!.definition.file, path.join(root, 'demo/digits/experiment.py'));
  assert.match(ranked[1]!.reason, /1 folder step from demo\/digits\/model\/model\.json/);
  assert.equal(ranked[2]!.definition.file, path.join(root, 'scripts/train_shapes.py'));

  // A TF.js script that only mentions the folder (file:// URL relative to its own folder) beats distance.
  index.update(path.join(root, 'demo/digits/train.ts'),
    "tf.layers.conv2d({ filters: 8, kernelSize: 3, name: 'conv1' });\nconst OUT = 'file://./model';\n");
  ranked = index.rank('conv1', { modelPath, workspaceRoot: root });
  assert.deepEqual(ranked.map((r) => path.relative(root, r.definition.file)), [
    'scripts/train_digits.py', path.normalize('demo/digits/train.ts'), path.normalize('demo/digits/experiment.py'),
    path.normalize('scripts/train_shapes.py'),
  ]);
  assert.match(ranked[1]!.reason, /mentions "file:\/\/\.\/model" on line 2/);
});

test('ranking: a multi-segment path from an unknown working directory still names the model', () => {
  const modelPath = path.resolve('/ws/out/digits/model/model.json');
  const index = new LayerIndex();
  index.update(path.resolve('/elsewhere/train.py'), 'layers.Dense(1, name="d")\nmodel.save(os.path.join("digits/model"))\n');
  index.update(path.resolve('/ws/out/near.py'), 'layers.Dense(1, name="d")\nprint("model")\n');
  const ranked = index.rank('d', { modelPath });
  assert.equal(ranked[0]!.definition.file, path.resolve('/elsewhere/train.py'));
  assert.match(ranked[0]!.reason, /save\("digits\/model"\)/);
  // "model" relative to /ws/out is /ws/out/model, not the model's folder: no mention credit.
  assert.match(ranked[1]!.reason, /no script names/);
});
