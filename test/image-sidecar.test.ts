// loupe.json sidecar: defaults and every validation error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSidecar, DEFAULT_PREPROCESSING } from '../src/engine/image/sidecar';
import { LoupeError } from '../src/protocol/errors';

const RGB: [number, number, number] = [32, 32, 3];
const GRAY: [number, number, number] = [28, 28, 1];

/** A fresh model folder with model.json and the given extra files; returns the model.json path. */
function modelDir(t: { after: (fn: () => void) => void }, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-sidecar-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'model.json'), '{}');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, 'model.json');
}

async function expectInvalid(p: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LoupeError, String(err));
    assert.equal(err.code, 'SIDECAR_INVALID', err.message);
    assert.equal(err.file, file);
    assert.match(err.message, pattern);
    assert.ok(err.hint, 'says what to do');
    return true;
  });
}

test('no sidecar: defaults, channels from the model, generic labels', async (t) => {
  const model = modelDir(t);
  const rgb = await readSidecar(model, RGB, 3);
  assert.deepEqual(rgb, {
    preprocessing: { range: [0, 1], mean: [0], std: [1], channels: 'rgb' },
    labels: ['class 0', 'class 1', 'class 2'],
  });
  const gray = await readSidecar(model, GRAY, 2);
  assert.equal(gray.preprocessing.channels, 'gray');
  assert.deepEqual(DEFAULT_PREPROCESSING.range, [0, 1]);
});

test('labels.txt beside the model is used without a sidecar (CRLF, trailing newline)', async (t) => {
  const model = modelDir(t, { 'labels.txt': 'cat\r\ndog\r\nbird\r\n\r\n' });
  assert.deepEqual((await readSidecar(model, RGB, 3)).labels, ['cat', 'dog', 'bird']);
});

test('a full sidecar is read; partial ones fill in defaults', async (t) => {
  const full = modelDir(t, {
    'loupe.json': JSON.stringify({
      input: { range: [0, 255], mean: [103.9, 116.8, 123.7], std: [1], channels: 'bgr' },
      labels: 'names.txt',
    }),
    'names.txt': 'a\nb\n',
  });
  const r = await readSidecar(full, RGB, 2);
  assert.deepEqual(r.preprocessing, { range: [0, 255], mean: [103.9, 116.8, 123.7], std: [1], channels: 'bgr' });
  assert.deepEqual(r.labels, ['a', 'b']);
  assert.equal(r.sidecarFile, path.join(path.dirname(full), 'loupe.json'));

  const partial = modelDir(t, { 'loupe.json': JSON.stringify({ input: { range: [-1, 1] }, labels: ['zero', 'one'] }) });
  const p = await readSidecar(partial, GRAY, 2);
  assert.deepEqual(p.preprocessing, { range: [-1, 1], mean: [0], std: [1], channels: 'gray' });
  assert.deepEqual(p.labels, ['zero', 'one']);
});

test('every malformed sidecar is SIDECAR_INVALID with a specific message', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ input: { range: [1, 0] } }, /min < max/],
    [{ input: { range: [0, 1, 2] } }, /two numbers/],
    [{ input: { range: ['0', 1] } }, /two numbers/],
    [{ input: { std: [1, 0, 1] } }, /std.*0/],
    [{ input: { mean: [0.5, 0.5] } }, /mean.*2 values.*3 channels/],
    [{ input: { std: [] } }, /std.*list of numbers/],
    [{ input: { channels: 'gray' } }, /"gray" but the model input has 3 channels/],
    [{ input: { channels: 'hsv' } }, /"rgb", "bgr" or "gray"/],
    [{ input: { scale: 2 } }, /unknown key "input.scale"/],
    [{ lables: 'labels.txt' }, /unknown key "lables"/],
    [{ input: [0, 1] }, /"input" must be an object/],
    [{ labels: ['a', 'b'] }, /lists 2 names but the model has 3 classes/],
    [{ labels: ['a', 2, 'c'] }, /array of strings/],
    [{ labels: 7 }, /file name or an array/],
    [{ labels: '../outside.txt' }, /outside the model folder/],
    [{ labels: '/etc/hostname' }, /outside the model folder/],
    [{ labels: 'nope.txt' }, /does not exist/],
    [[1, 2], /JSON object/],
  ];
  for (const [json, pattern] of cases) {
    const model = modelDir(t, { 'loupe.json': JSON.stringify(json) });
    await expectInvalid(readSidecar(model, RGB, 3), path.join(path.dirname(model), 'loupe.json'), pattern);
  }
  const broken = modelDir(t, { 'loupe.json': '{"input": ' });
  await expectInvalid(readSidecar(broken, RGB, 3), path.join(path.dirname(broken), 'loupe.json'), /not valid JSON/);
});

test('label files: wrong count or blank lines name the labels file', async (t) => {
  const short = modelDir(t, { 'labels.txt': 'a\nb\n' });
  await expectInvalid(readSidecar(short, RGB, 3), path.join(path.dirname(short), 'labels.txt'), /2 labels but the model has 3 classes/);
  const blank = modelDir(t, { 'loupe.json': '{"labels": "l.txt"}', 'l.txt': 'a\n\nc\n' });
  await expectInvalid(readSidecar(blank, RGB, 3), path.join(path.dirname(blank), 'l.txt'), /line 2 is empty/);
});

test('a symlink inside the folder that leads outside it is refused', async (t) => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-outside-'));
  t.after(() => fs.rmSync(outside, { recursive: true, force: true }));
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'a\nb\nc\n');
  const model = modelDir(t, { 'loupe.json': '{"labels": "link.txt"}' });
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(path.dirname(model), 'link.txt'));
  await expectInvalid(readSidecar(model, RGB, 3), path.join(path.dirname(model), 'loupe.json'), /outside the model folder/);
});

test('a model with neither 1 nor 3 input channels is UNSUPPORTED_MODEL', async (t) => {
  const model = modelDir(t);
  await assert.rejects(readSidecar(model, [8, 8, 4], 2), (e: unknown) => e instanceof LoupeError && e.code === 'UNSUPPORTED_MODEL');
});
