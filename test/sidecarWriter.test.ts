// The host's loupe.json writer: every file it writes is read back by the engine's own reader
// (src/engine/image/sidecar.ts, the oracle), it never replaces a file it was not allowed to, and a
// reader never sees half a file.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readSidecar, SIDECAR_NAME as ENGINE_SIDECAR_NAME, DEFAULT_LABELS_NAME as ENGINE_LABELS_NAME } from '../src/engine/image/sidecar';
import { needsSidecarSize } from '../src/host/sidecar/sidecarErrors';
import {
  DEFAULT_LABELS_NAME, defaultsNote, labelFileCandidates, parseNumbers, parseSize, SIDECAR_NAME, SIDECAR_PRESETS, SidecarExistsError,
  sidecarPathOf, sidecarText, withSize, writeSidecarFile,
} from '../src/host/sidecar/sidecarFile';

function modelFolder(t: { after: (fn: () => void) => void }, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-sidecar-writer-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'model.onnx'), Buffer.from([0x08, 0x07]));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, 'model.onnx');
}

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('the host writes the file the engine reads: same name, beside the model', () => {
  assert.equal(SIDECAR_NAME, ENGINE_SIDECAR_NAME);
  assert.equal(DEFAULT_LABELS_NAME, ENGINE_LABELS_NAME);
  assert.equal(sidecarPathOf('/w/pytorch/model.onnx'), path.join('/w/pytorch', 'loupe.json'));
});

test('each preset, written by the host, is read by the engine as the same preprocessing', async (t) => {
  for (const preset of SIDECAR_PRESETS) {
    const model = modelFolder(t);
    const file = sidecarPathOf(model);
    await writeSidecarFile(file, sidecarText({ input: { ...preset.input, channels: 'rgb' } }), { overwrite: false });
    const read = await readSidecar(model, [224, 224, 3], 4);
    assert.deepEqual(read.preprocessing, { ...preset.input, channels: 'rgb' }, preset.id);
    assert.equal(read.sidecarFile, file);
    assert.deepEqual(read.labels, ['class 0', 'class 1', 'class 2', 'class 3']);
    assert.deepEqual(leftovers(path.dirname(model)), []);
  }
  // torchvision's Normalize values, digit for digit.
  assert.deepEqual(SIDECAR_PRESETS.find((p) => p.id === 'imagenet')!.input, { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
});

test('a gray model with a custom range, and a labels file picked from the folder', async (t) => {
  const model = modelFolder(t, { 'classes.txt': 'circle\nsquare\ntriangle\n', 'notes.txt': 'a\n\nb\n' });
  const candidates = await labelFileCandidates(model);
  assert.deepEqual(candidates, [{ name: 'classes.txt', lines: 3 }, { name: 'notes.txt', lines: 3 }]);
  await writeSidecarFile(sidecarPathOf(model), sidecarText({
    input: { range: [-1, 1], mean: parseNumbers('0.5', 1)!, std: parseNumbers('0.25', 1, true)!, channels: 'gray' },
    labels: 'classes.txt',
  }), { overwrite: false });
  const read = await readSidecar(model, [28, 28, 1], 3);
  assert.deepEqual(read.preprocessing, { range: [-1, 1], mean: [0.5], std: [0.25], channels: 'gray' });
  assert.deepEqual(read.labels, ['circle', 'square', 'triangle']);
});

test('an existing loupe.json is never replaced without consent; with it, it is replaced whole', async (t) => {
  const old = '{ "input": { "range": [0, 255] } }\n';
  const model = modelFolder(t, { 'loupe.json': old });
  const file = sidecarPathOf(model);
  await assert.rejects(writeSidecarFile(file, sidecarText({ input: { range: [0, 1] } }), { overwrite: false }), SidecarExistsError);
  assert.equal(fs.readFileSync(file, 'utf8'), old);
  assert.deepEqual(leftovers(path.dirname(model)), []);
  await writeSidecarFile(file, sidecarText({ input: { range: [-1, 1] } }), { overwrite: true });
  assert.deepEqual((await readSidecar(model, [8, 8, 3], 2)).preprocessing.range, [-1, 1]);
  assert.deepEqual(leftovers(path.dirname(model)), []);
});

test('a reader never sees half a file while the writer replaces it', async (t) => {
  const model = modelFolder(t);
  const file = sidecarPathOf(model);
  // Large enough that a non-atomic write would be seen in pieces.
  const texts = ['a', 'b'].map((k) => sidecarText({ input: { range: [0, 1] }, labels: `${k.repeat(200_000)}.txt` }));
  await writeSidecarFile(file, texts[0]!, { overwrite: false });
  let reads = 0;
  let writing = true;
  const reader = (async () => {
    while (writing) {
      const text = await fs.promises.readFile(file, 'utf8');
      assert.ok(texts.includes(text), `a read saw ${text.length} characters that are neither version`);
      reads++;
    }
  })();
  for (let i = 1; i <= 40; i++) await writeSidecarFile(file, texts[i % 2]!, { overwrite: true });
  writing = false;
  await reader;
  assert.ok(reads > 0);
  assert.deepEqual(leftovers(path.dirname(model)), []);
});

test('adding "size" to an existing loupe.json keeps its other keys', () => {
  const text = withSize('{"input": {"range": [-1, 1], "channels": "rgb"}, "labels": "labels.txt"}', [192, 256]);
  assert.deepEqual(JSON.parse(text), { input: { range: [-1, 1], channels: 'rgb', size: [192, 256] }, labels: 'labels.txt' });
  assert.deepEqual(JSON.parse(withSize('{}', [1, 2])), { input: { size: [1, 2] } });
  assert.throws(() => withSize('[1, 2]', [1, 1]), /not hold a JSON object/);
  assert.throws(() => withSize('{"input": 3}', [1, 1]), /"input" in loupe.json is not an object/);
  assert.throws(() => withSize('{', [1, 1]), SyntaxError);
});

test('what the user types: sizes and per-channel numbers', () => {
  assert.deepEqual(parseSize('224, 224'), [224, 224]);
  assert.deepEqual(parseSize(' 192x256 '), [192, 256]);
  assert.deepEqual(parseSize('32 48'), [32, 48]);
  for (const bad of ['224', '0, 3', '-1, 4', '2.5, 3', 'a, b', '99999, 2']) assert.equal(parseSize(bad), undefined, bad);
  assert.deepEqual(parseNumbers('0.5, 0.5, 0.5', 3), [0.5, 0.5, 0.5]);
  assert.deepEqual(parseNumbers('0.5', 3), [0.5]);
  assert.equal(parseNumbers('0.5, 0.5', 3), undefined); // 2 values for 3 channels
  assert.equal(parseNumbers('1, 0, 1', 3, true), undefined); // a std of 0 divides
  assert.equal(parseNumbers('', 3), undefined);
  assert.equal(parseNumbers('x', 1), undefined);
});

test('the panel note says which defaults were used', () => {
  assert.equal(defaultsNote('/w/pytorch/model.onnx', 4, false, false),
    'No loupe.json beside model.onnx: Loupe used range [0, 1], no normalisation (mean 0, std 1) and labels "class 0"…"class 3". If the model was trained otherwise, its maps and predictions are off.');
  assert.match(defaultsNote('/w/m.onnx', 10, true, true), /labels from labels\.txt \(the loupe\.preprocessing setting overrides part of it: see above\)/);
});

test('the error of a model whose size is symbolic is recognised by the "size" key it names', () => {
  assert.equal(needsSidecarSize('/w/model.onnx: the input height and width are symbolic (dynamic axes) (give them in loupe.json: "input": {"size": [H, W]})'), true);
  assert.equal(needsSidecarSize('/w/loupe.json: unknown key "input.foo"'), false);
  assert.equal(needsSidecarSize('/w/model.onnx: unsupported op "LSTM"'), false);
});
