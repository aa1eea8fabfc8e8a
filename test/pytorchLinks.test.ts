// PyTorch module paths followed through the module tree, against Python sources in
// test/fixtures/pytorch written for these tests (torchvision's patterns, by hand). Expected lines are
// found in the fixture text itself (the line holding a given snippet), never taken from a run.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { frameworksFor, LayerIndex, type LayerDefinition } from '../src/host/codeIndex/index';

const FIXTURES = path.resolve(__dirname, 'fixtures/pytorch');

function indexOf(...folders: string[]): LayerIndex {
  const index = new LayerIndex();
  for (const folder of folders) {
    const dir = path.join(FIXTURES, folder);
    for (const f of fs.readdirSync(dir)) index.update(path.join(dir, f), fs.readFileSync(path.join(dir, f), 'utf8'));
  }
  return index;
}

/** 0-based line of the `nth` line (from 1) of `file` that contains `needle`, and the column of `needle` in it. */
function where(file: string, needle: string, nth = 1): { line: number; column: number } {
  const lines = fs.readFileSync(path.join(FIXTURES, file), 'utf8').split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    const column = lines[i]!.indexOf(needle);
    if (column >= 0 && ++seen === nth) return { line: i, column };
  }
  throw new Error(`"${needle}" (#${nth}) not in ${file}`);
}

const at = (d: LayerDefinition | undefined): string => (d ? `${path.relative(FIXTURES, d.file)}:${d.line}` : 'nothing');
const lineIn = (file: string, needle: string, nth = 1): string => `${file}:${where(file, needle, nth).line}`;

function only(index: LayerIndex, name: string): LayerDefinition {
  const found = index.lookup(name);
  assert.equal(found.length, 1, `${name}: ${found.map(at).join(', ')}`);
  return found[0]!;
}

test('a block class reused across stages: layerN.i.conv2 is the self.conv2 line of the block _make_layer builds', () => {
  const index = indexOf('resnet');
  for (const stage of ['layer1.0', 'layer1.1', 'layer2.1', 'layer4.1']) {
    const d = only(index, `${stage}.conv2`);
    assert.equal(at(d), lineIn('resnet/blocks.py', 'self.conv2 = conv3x3'));
    assert.equal(d.className, 'Conv2d'); // conv3x3() returns an nn.Conv2d
    // The name the hover and the cursor land on is `conv2` of `self.conv2`.
    const name = where('resnet/blocks.py', 'self.conv2 = conv3x3');
    assert.deepEqual([d.nameLine, d.nameColumn, d.nameLength], [name.line, name.column + 'self.'.length, 'conv2'.length]);
  }
  assert.equal(at(only(index, 'layer3.1.bn2')), lineIn('resnet/blocks.py', 'self.bn2 = norm_layer(planes)'));
  assert.equal(at(only(index, 'layer1.0.relu')), lineIn('resnet/blocks.py', 'self.relu = nn.ReLU'));
  // The stem's conv1 is ResNet's own, not the block's (BasicBlock is passed as an argument: a block, not a model).
  assert.equal(at(only(index, 'conv1')), lineIn('resnet/model.py', 'self.conv1 = nn.Conv2d'));
  assert.equal(at(only(index, 'fc')), lineIn('resnet/model.py', 'self.fc = nn.Linear'));
  // The downsample branch: a local assigned None, then (under a condition) an nn.Sequential passed to the block.
  const down = only(index, 'layer2.0.downsample.0');
  assert.equal(at(down), lineIn('resnet/model.py', 'conv1x1(self.inplanes'));
  assert.match(down.trail!.join(' | '), /layer2: self\.layer2 in ResNet → nn\.Sequential of 2 elements \| layer2\.0: \[0\] → BasicBlock/);
});

test('_make_layer counts its blocks from the constructor call: an index past them stops at the stage and says so', () => {
  const index = indexOf('resnet');
  // ResNet(BasicBlock, [2, 2, 2, 2]) in export.py: two blocks per stage.
  const d = only(index, 'layer4.5.conv1');
  assert.equal(at(d), lineIn('resnet/model.py', 'self.layer4 = self._make_layer'));
  assert.match(d.caveat!, /^layer4\.5: Sequential has 2 children Loupe can see; \[5\] is not among them$/);
});

test('an op written in a forward() links to that forward', () => {
  const index = indexOf('resnet');
  assert.equal(at(only(index, 'layer1.0/Add')), lineIn('resnet/blocks.py', 'def forward'));
  assert.equal(at(only(index, '/Flatten')), lineIn('resnet/model.py', 'def forward'));
});

test('nested Sequential indices: an nn.Sequential subclass, * unpacking, append loops, extend, conditions on arguments', () => {
  const index = indexOf('mobilenet');
  const conv = lineIn('mobilenet/net.py', 'nn.Conv2d(cin, cout, kernel_size');
  // features = [ConvBNReLU] + 2 × InvertedResidual (range(2)) + [ConvBNReLU]: [3] is the last ConvBNReLU.
  assert.equal(at(only(index, 'features.0.0')), conv);
  assert.equal(at(only(index, 'features.3.0')), conv);
  assert.equal(at(only(index, 'features.3.2')), lineIn('mobilenet/net.py', 'nn.ReLU6(inplace=True)'));
  // InvertedResidual(16, 16, 1, expand_ratio=6): `if expand_ratio != 1` holds, so its Sequential is
  // [pointwise ConvBNReLU, depthwise ConvBNReLU, Conv2d, BatchNorm2d].
  assert.equal(at(only(index, 'features.2.conv.0')), lineIn('mobilenet/net.py', 'layers.append(ConvBNReLU'));
  assert.equal(at(only(index, 'features.2.conv.1')), lineIn('mobilenet/net.py', 'ConvBNReLU(hidden, hidden'));
  assert.equal(at(only(index, 'features.2.conv.1.0')), conv);
  assert.equal(at(only(index, 'features.2.conv.2')), lineIn('mobilenet/net.py', 'nn.Conv2d(hidden, cout'));
  assert.equal(at(only(index, 'features.2.conv.3')), lineIn('mobilenet/net.py', 'nn.BatchNorm2d(cout)', 2));
  assert.equal(at(only(index, 'classifier.1')), lineIn('mobilenet/net.py', 'nn.Linear(64, num_classes)'));
});

test('an index that depends on a condition Loupe cannot evaluate: the link stops at the container and says why', () => {
  const index = indexOf('mobilenet');
  // head = [Conv2d] + (BatchNorm2d if torch.cuda.is_available()) + [ReLU]
  const d = only(index, 'head.1');
  assert.equal(at(d), lineIn('mobilenet/net.py', 'self.head = nn.Sequential(*head)'));
  const cond = where('mobilenet/net.py', 'head.append(nn.BatchNorm2d').line + 1;
  const relu = where('mobilenet/net.py', 'head.append(nn.ReLU())').line + 1;
  assert.equal(d.caveat, `head.1: [1] may be BatchNorm2d (line ${cond}) or ReLU (line ${relu}): line ${cond} runs under a condition Loupe cannot evaluate`);
  // The conditional element is 0 or 1 of them: [2] can only be the ReLU, [0] only the Conv2d.
  assert.equal(at(only(index, 'head.2')), lineIn('mobilenet/net.py', 'head.append(nn.ReLU())'));
  assert.equal(at(only(index, 'head.0')), lineIn('mobilenet/net.py', 'head = [nn.Conv2d(64, 64, 1)]'));
});

test('elements Loupe cannot list (* of an unknown list) are never mistaken for an element', () => {
  const index = new LayerIndex();
  index.update('/w/n.py', [
    'from torch import nn',
    'class N(nn.Module):',
    '    def __init__(self, blocks):',
    '        super().__init__()',
    '        self.body = nn.Sequential(*blocks, nn.ReLU())',
  ].join('\n'));
  const d = only(index, 'body.0');
  assert.equal(d.line, 4);
  assert.match(d.caveat!, /^body\.0: \[0\] falls among elements Loupe cannot list: \*blocks on line 5 unpacks something Loupe cannot list$/);
});

test('ModuleList of a comprehension, ModuleList appends, ModuleDict, OrderedDict, a module-level Sequential', () => {
  const index = indexOf('containers');
  assert.equal(at(only(index, 'stages.2.conv')), lineIn('containers/net.py', 'self.conv = nn.Conv2d'));
  const past = only(index, 'stages.5.conv');
  assert.equal(at(past), lineIn('containers/net.py', 'self.stages = nn.ModuleList'));
  assert.match(past.caveat!, /ModuleList has 3 children/); // range(depth), depth=3 by default
  assert.equal(at(only(index, 'heads.1')), lineIn('containers/net.py', 'self.heads.append(nn.Linear'));
  const norm = only(index, 'extra.norm');
  assert.equal(at(norm), lineIn('containers/net.py', '"norm": nn.LayerNorm'));
  assert.equal(norm.nameColumn, where('containers/net.py', '"norm"').column);
  assert.equal(at(only(index, 'head.0.1')), lineIn('containers/net.py', 'nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU())'));
  assert.equal(at(only(index, 'named.relu')), lineIn('containers/net.py', '("relu", nn.ReLU())'));
  assert.equal(at(only(index, '1')), lineIn('containers/net.py', 'model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))'));
  // `if depth > 2` with depth = 3 (the default): the BatchNorm2d branch.
  assert.equal(at(only(index, 'norm')), lineIn('containers/net.py', 'self.norm = nn.BatchNorm2d'));
  // Assigned in both branches of an if on a runtime value: Loupe does not pick one.
  const cond = only(index, 'act');
  assert.equal(at(cond), lineIn('containers/net.py', 'class Net('));
  const lines = [where('containers/net.py', 'self.act = nn.SiLU').line + 1, where('containers/net.py', 'self.act = nn.ReLU').line + 1];
  assert.equal(cond.caveat, `act: self.act is assigned in 2 places (lines ${lines.join(', ')}), depending on conditions Loupe cannot evaluate`);
});

test('a torchvision-built model links its construction line and says the module is defined inside torchvision', () => {
  const index = indexOf('library');
  const model = path.join(FIXTURES, 'library/tv_resnet18.onnx');
  const ranked = index.rank('layer4.1.conv2', { modelPath: model, workspaceRoot: FIXTURES });
  assert.equal(ranked.length, 1, ranked.map((r) => at(r.definition)).join(', '));
  const best = ranked[0]!;
  assert.equal(at(best.definition), lineIn('library/export_resnet.py', 'model = torchvision.models.resnet18'));
  assert.equal(best.definition.library, 'torchvision.models.resnet18');
  assert.equal(best.definition.caveat, 'layer4.1.conv2 is defined inside torchvision: this line builds the model with torchvision.models.resnet18(…)');
  assert.equal(best.tier, 3);
  assert.match(best.reason, /export_resnet\.py exports the model: torch\.onnx\.export\("tv_resnet18\.onnx"\) on line \d+ names library\/tv_resnet18\.onnx/);

  // A model class wrapping a torchvision backbone: its own head resolves, the backbone's inside stops at the attribute.
  const wrapped = path.join(FIXTURES, 'library/wrapped.onnx');
  const inside = index.rank('backbone.features.18.0', { modelPath: wrapped, workspaceRoot: FIXTURES });
  assert.deepEqual(inside.map((r) => at(r.definition)), [lineIn('library/wrapped.py', 'self.backbone = models.mobilenet_v2')]);
  assert.equal(inside[0]!.definition.caveat, 'backbone.features.18.0 is defined inside torchvision: this line builds backbone with torchvision.models.mobilenet_v2(…)');
  const head = index.rank('head', { modelPath: wrapped, workspaceRoot: FIXTURES });
  assert.deepEqual(head.map((r) => at(r.definition)), [lineIn('library/wrapped.py', 'self.head = nn.Linear')]);
  assert.equal(head[0]!.definition.caveat, undefined);
});

test('ranking: the script whose torch.onnx.export writes the model comes first, with the reason', () => {
  const index = indexOf('ranking');
  const a = index.rank('conv1', { modelPath: path.join(FIXTURES, 'ranking/a.onnx'), workspaceRoot: FIXTURES });
  assert.deepEqual(a.map((r) => at(r.definition)), [lineIn('ranking/train_a.py', 'self.conv1'), lineIn('ranking/train_b.py', 'self.conv1')]);
  const exportLine = where('ranking/train_a.py', 'torch.onnx.export').line + 1;
  assert.equal(a[0]!.tier, 3);
  assert.equal(a[0]!.reason, `ranking/train_a.py exports the model: torch.onnx.export("a.onnx") on line ${exportLine} names ranking/a.onnx`);
  // train_b.py writes b.pt into the same folder: a hint, weaker than naming the model.
  assert.equal(a[1]!.tier, 2);
  assert.match(a[1]!.reason, /^ranking\/train_b\.py saves "b\.pt" beside ranking\/a\.onnx \(torch\.save on line \d+\)$/);

  // Paths are relative to the script's folder: "exports/b.onnx" from ranking/train_b.py.
  const b = index.rank('fc', { modelPath: path.join(FIXTURES, 'ranking/exports/b.onnx'), workspaceRoot: FIXTURES });
  assert.equal(at(b[0]!.definition), lineIn('ranking/train_b.py', 'self.fc'));
  assert.match(b[0]!.reason, /train_b\.py exports the model: torch\.onnx\.export\("exports\/b\.onnx"\)/);
  assert.equal(b[1]!.tier, 1);

  // Relative to the workspace root (the script run from there) counts too.
  const root = new LayerIndex();
  root.update(path.join(FIXTURES, 'scripts/train.py'), 'import torch\nclass N(torch.nn.Module):\n    def __init__(self):\n        self.fc = torch.nn.Linear(1, 1)\n'
    + 'model = N()\ntorch.onnx.export(model, x, "out/n.onnx")\n');
  const r = root.rank('fc', { modelPath: path.join(FIXTURES, 'out/n.onnx'), workspaceRoot: FIXTURES });
  assert.equal(r[0]!.tier, 3);
});

test('ranking: the class is defined in one file, the script that exports it is another: both are named', () => {
  const index = indexOf('resnet');
  const ranked = index.rank('layer4.1.conv2', { modelPath: path.join(FIXTURES, 'resnet/resnet.onnx'), workspaceRoot: FIXTURES });
  assert.equal(ranked.length, 1);
  const exportLine = where('resnet/export.py', 'torch.onnx.export').line + 1;
  assert.equal(ranked[0]!.reason, `resnet/export.py exports the model: torch.onnx.export("resnet.onnx") on line ${exportLine} names resnet/resnet.onnx; resnet/blocks.py defines the module`);
  // Another ONNX file in the folder is not this model: the checkpoint loaded by name is not a save.
  const other = index.rank('layer4.1.conv2', { modelPath: path.join(FIXTURES, 'resnet/other.onnx'), workspaceRoot: FIXTURES });
  assert.equal(other[0]!.tier, 1);
});

test('every module PyTorch names in the ONNX fixtures resolves to a line creating that class (scripts/fixtures/onnx_fixtures.py)', () => {
  // The oracle: named_modules() with each module's class, saved by PyTorch in meta.json next to each export.
  const repo = path.resolve(__dirname, '..');
  const script = path.join(repo, 'scripts/fixtures/onnx_fixtures.py');
  const index = new LayerIndex();
  index.update(script, fs.readFileSync(script, 'utf8'));
  const root = path.join(repo, 'test/fixtures/onnx');
  let checked = 0;
  for (const name of fs.readdirSync(root).sort()) {
    const metaFile = path.join(root, name, 'meta.json');
    if (!fs.existsSync(metaFile)) continue;
    const modules = (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { modules?: Array<{ name: string; class: string }> }).modules;
    if (!modules) continue;
    const model = modules[0]!;
    assert.equal(model.name, '');
    for (const m of modules.slice(1)) {
      const found = index.lookup(m.name).filter((d) => d.trail?.[0] === `class ${model.class}`);
      assert.equal(found.length, 1, `${name}: ${m.name} (${m.class}) from class ${model.class}: ${found.map(at).join(', ') || 'nothing'}`);
      assert.equal(found[0]!.caveat, undefined, `${name}: ${m.name}: ${found[0]!.caveat}`);
      assert.equal(found[0]!.className, m.class, `${name}: ${m.name} resolves to a ${found[0]!.className} on line ${found[0]!.line + 1}`);
      checked++;
    }
  }
  assert.ok(checked >= 150, `only ${checked} modules checked`);
});

test('a model is linked only to code of the frameworks that can write its format', () => {
  const index = new LayerIndex();
  index.update('/w/shapes/train.ts', "model.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, name: 'conv1' }));");
  index.update('/w/pytorch/train.py', 'from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        self.conv1 = nn.Conv2d(3, 8, 3)\n');
  const files = (format: Parameters<typeof frameworksFor>[0]): string[] =>
    index.rank('conv1', { modelPath: '/w/m/model', frameworks: frameworksFor(format) }).map((r) => r.definition.file);
  assert.deepEqual(files('layers'), ['/w/shapes/train.ts']);
  assert.deepEqual(files('onnx'), ['/w/pytorch/train.py']);
  assert.deepEqual(index.rank('conv1', { modelPath: '/w/m/model' }).map((r) => r.definition.file).sort(), ['/w/pytorch/train.py', '/w/shapes/train.ts']);
});
