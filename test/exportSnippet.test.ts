// The torch.onnx.export snippet for a PyTorch checkpoint, written from the script that saved it.
// Expected lines come from the fixture scripts' text (test/fixtures/pytorch/checkpoint). That the
// snippet runs was checked by hand with Debian's torch 1.13 (train.py, then the snippet: an ONNX file
// with /conv1/Conv … /fc/Gemm); npm test runs no Python.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkpointSnippet } from '../src/host/codeIndex/exportSnippet';
import { LayerIndex } from '../src/host/codeIndex/index';

const DIR = path.resolve(__dirname, 'fixtures/pytorch/checkpoint');
const ROOT = path.dirname(DIR);

type Known = { channels: number; height: number; width: number; from: string };

function snippetFor(checkpoint: string, knownInput?: Known) {
  const index = new LayerIndex();
  for (const f of fs.readdirSync(DIR).filter((f) => f.endsWith('.py'))) index.update(path.join(DIR, f), fs.readFileSync(path.join(DIR, f), 'utf8'));
  return checkpointSnippet({
    checkpoint: path.join(DIR, checkpoint), workspaceRoot: ROOT, index, text: (f) => fs.readFileSync(f, 'utf8'), ...(knownInput ? { knownInput } : {}),
  });
}

/** 1-based line of `needle` in a fixture script. */
function lineOf(file: string, needle: string): number {
  const i = fs.readFileSync(path.join(DIR, file), 'utf8').split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, needle);
  return i + 1;
}

const linesOf = (text: string): string[] => text.split('\n');

test('a state_dict saved by a training script: its class, its constants, its input size', () => {
  const s = snippetFor('checkpoint.pt');
  assert.deepEqual(s.writer, { file: path.join(DIR, 'train.py'), line: lineOf('train.py', 'torch.save(') - 1 });
  assert.deepEqual(s.model, { kind: 'class', name: 'TinyNet', file: path.join(DIR, 'train.py') });
  const lines = linesOf(s.text);
  assert.ok(lines.includes(`sys.path.insert(0, "${DIR}")  # the folder of train.py, so that its imports work as when it ran`));
  assert.ok(lines.includes('from train import TinyNet, NUM_CLASSES'), s.text);
  // The constructor call as the script writes it (without .to("cpu")).
  assert.ok(lines.includes(`model = TinyNet(NUM_CLASSES, width=8)  # as on line ${lineOf('train.py', 'model = TinyNet(')} of train.py`), s.text);
  assert.ok(lines.includes(`state = torch.load("${path.join(DIR, 'checkpoint.pt')}", map_location="cpu")`));
  assert.ok(lines.includes('model.load_state_dict(state)'));
  // IMAGE_SIZE = 32 and the dummy batch torch.randn(8, 3, IMAGE_SIZE, IMAGE_SIZE).
  assert.deepEqual(s.input, { channels: 3, height: 32, width: 32, from: `from torch.randn(…) on line ${lineOf('train.py', 'x = torch.randn(')} of checkpoint/train.py` });
  assert.ok(lines.includes('dummy = torch.randn(1, 3, 32, 32)'));
  assert.equal(s.onnxPath, path.join(DIR, 'checkpoint.onnx'));
  assert.ok(s.text.includes(`torch.onnx.export(model, dummy, "${s.onnxPath}", opset_version=17,`));
  // train.py guards its training with if __name__ == "__main__": no warning about importing it.
  assert.doesNotMatch(s.text, /runs its top-level statements/);
  assert.doesNotMatch(s.text, /PLACEHOLDER/);
});

test('a torchvision model saved in a dict under a path relative to the script: the library call, the key, 224 assumed', () => {
  const s = snippetFor('runs/last.ckpt');
  assert.deepEqual(s.model, { kind: 'library', name: 'torchvision.models.resnet18' });
  const lines = linesOf(s.text);
  assert.ok(lines.includes('from torchvision import models'));
  assert.ok(lines.includes('from finetune import n_classes'));
  assert.ok(lines.includes(`model = models.resnet18(num_classes=n_classes)  # as on line ${lineOf('finetune.py', 'models.resnet18(')} of finetune.py`));
  assert.ok(lines.includes('model.load_state_dict(state["model"])'));
  assert.deepEqual(s.input, { channels: 3, height: 224, width: 224 });
  assert.ok(lines.includes('# Input: 3×224×224 assumed (no size found in finetune.py). check: use the size the model was trained on.'));
  assert.equal(s.onnxPath, path.join(DIR, 'runs/last.onnx'));
  // An ONNX model Loupe read beside the checkpoint gives the size when no script does; a script's own size wins.
  const known = { channels: 3, height: 64, width: 64, from: 'the input of model.onnx beside it (as Loupe reads it)' };
  assert.deepEqual(snippetFor('runs/last.ckpt', known).input, known);
  assert.ok(linesOf(snippetFor('runs/last.ckpt', known).text).includes('dummy = torch.randn(1, 3, 64, 64)'));
  assert.equal(snippetFor('checkpoint.pt', known).input.height, 32);
});

test('a whole pickled model from a script without a main guard: warnings, no constructor, size from the transform, channels from the first conv', () => {
  const s = snippetFor('whole.pt');
  const lines = linesOf(s.text);
  assert.ok(lines.includes('from whole import Small'));
  assert.ok(lines.some((l) => l.startsWith('# check: importing whole.py runs its top-level statements')), s.text);
  assert.ok(!lines.some((l) => l.startsWith('model = Small(')), 'a pickled model is loaded, not built');
  assert.ok(lines.some((l) => l.startsWith('# The checkpoint holds the whole pickled model: loading it runs code from the file.')));
  assert.ok(lines.some((l) => l.startsWith(`model = torch.load("${path.join(DIR, 'whole.pt')}", map_location="cpu"`)));
  assert.deepEqual(s.input, {
    channels: 1, height: 28, width: 28,
    from: `from Resize(…) on line ${lineOf('whole.py', 'Resize((28, 28))')} of checkpoint/whole.py; channels in_channels of the first nn.Conv2d, line ${lineOf('whole.py', 'nn.Conv2d(1')} of checkpoint/whole.py`,
  });
});

test('no script saves the checkpoint: a clearly marked placeholder that fails if run unchanged', () => {
  const s = snippetFor('unknown.pth');
  assert.equal(s.writer, undefined);
  assert.equal(s.model, undefined);
  const lines = linesOf(s.text);
  assert.ok(lines.includes('model = MyNet()  # PLACEHOLDER: the class and arguments the checkpoint was trained with'));
  assert.ok(lines.some((l) => l.startsWith('# Loupe found no script in the workspace that saves unknown.pth')));
  assert.ok(lines.includes('dummy = torch.randn(1, 3, 224, 224)'));
  assert.ok(lines.includes('import inspect'));
});
