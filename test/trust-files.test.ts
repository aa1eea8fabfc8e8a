/**
 * Issue 13, part 1: every file Loupe reads is refused cleanly and boundedly when it is not what it says.
 * Each test reproduces one fault of the issue with a small hand-made input and checks the error names the file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import { readImageFile } from '../src/engine/image/decode';
import { readSidecar } from '../src/engine/image/sidecar';
import { readModelFiles } from '../src/engine/io/modelFiles';
import { writeRunFiles } from '../src/engine/output/runFiles';
import { randomPng } from './workerFixtures';
import { saveModel, tempDir } from './helpers/models';

let good: string;
let engine: Engine;
before(async () => {
  const input = tf.input({ shape: [6, 6, 3], name: 'image' });
  const c = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 2 }).apply(g) as tf.SymbolicTensor;
  good = await saveModel(tf.model({ inputs: input, outputs: out }));
  engine = await Engine.create({ backend: 'wasm', lanes: 1 });
});

function copyOfGood(): { dir: string; model: string } {
  const dir = tempDir('loupe-trust-');
  for (const f of fs.readdirSync(path.dirname(good))) fs.copyFileSync(path.join(path.dirname(good), f), path.join(dir, f));
  return { dir, model: path.join(dir, 'model.json') };
}

async function expectRefused(run: () => unknown, code: string | RegExp, pattern: RegExp, names: string): Promise<void> {
  await assert.rejects(async () => run(), (e: unknown) => {
    assert.ok(e instanceof LoupeError, `not a LoupeError: ${(e as Error)?.stack ?? e}`);
    if (typeof code === 'string') assert.equal(e.code, code, e.message);
    else assert.match(e.code, code);
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(names), `the message names ${names}: ${e.message}`);
    return true;
  });
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file]);
  assert.equal(r.status, 0, 'mkfifo works here');
}

test('--image /dev/zero, a FIFO and a folder are refused before a byte is read (no endless read, no hang)', async () => {
  const dir = tempDir('loupe-trust-');
  await expectRefused(() => readImageFile('/dev/zero', { maxPixels: 1e6 }), 'IMAGE_INVALID', /not a regular file \(a device\)/, '/dev/zero');
  const fifo = path.join(dir, 'pipe.png');
  mkfifo(fifo);
  await expectRefused(() => readImageFile(fifo, { maxPixels: 1e6 }), 'IMAGE_INVALID', /not a regular file \(a pipe\)/, fifo);
  await expectRefused(() => engine.predict(good, fifo), 'IMAGE_INVALID', /a pipe/, fifo);
});

test('--model /dev/zero, a model.json FIFO and a model.json folder are refused naming the file', async () => {
  await expectRefused(() => engine.describe('/dev/zero'), 'UNSUPPORTED_MODEL', /not a model file/, '/dev/zero');
  const { dir, model } = copyOfGood();
  fs.rmSync(model);
  mkfifo(model);
  await expectRefused(() => readModelFiles(model), 'MODEL_INVALID', /not a regular file \(a pipe\)/, model);
  const other = copyOfGood();
  fs.rmSync(other.model);
  fs.mkdirSync(other.model);
  await expectRefused(() => engine.describe(other.model), 'MODEL_INVALID', /a folder/, other.model);
  assert.ok(dir);
});

test('a weight shard that is a symlink to a file outside the model folder is not read', async () => {
  const { dir, model } = copyOfGood();
  const outside = tempDir('loupe-outside-');
  const shard = path.join(dir, JSON.parse(fs.readFileSync(model, 'utf8')).weightsManifest[0].paths[0]);
  fs.renameSync(shard, path.join(outside, 'w.bin'));
  fs.symlinkSync(path.join(outside, 'w.bin'), shard);
  await expectRefused(() => readModelFiles(model), 'WEIGHTS_INVALID', /is a link to .*outside the folder/, model);
});

test('a shard far larger than the manifest declares is refused from its size, before it is read', async () => {
  const { dir, model } = copyOfGood();
  const shard = path.join(dir, JSON.parse(fs.readFileSync(model, 'utf8')).weightsManifest[0].paths[0]);
  fs.truncateSync(shard, Math.round(1.9 * 1024 ** 3)); // sparse: nothing is allocated on disk
  const before = process.memoryUsage().rss;
  await expectRefused(() => readModelFiles(model), 'WEIGHTS_INVALID', /1\.9 GB, more than the \d+ bytes/, 'weight shard');
  assert.ok(process.memoryUsage().rss - before < 256 * 1024 ** 2, 'the shard was not read into memory');
});

test('a manifest declaring more weights than Loupe loads is refused before any shard is opened', async () => {
  const { model } = copyOfGood();
  const json = JSON.parse(fs.readFileSync(model, 'utf8'));
  json.weightsManifest[0].weights[0].shape = [1024, 1024, 1024];
  fs.writeFileSync(model, JSON.stringify(json));
  await expectRefused(() => readModelFiles(model), 'WEIGHTS_INVALID', /declares 4\.0 GB of weights/, model);
});

test('a default labels.txt that is a symlink out of the folder, or a folder, is refused naming it', async () => {
  const { dir, model } = copyOfGood();
  const outside = tempDir('loupe-outside-');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'a\nb\n');
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'labels.txt'));
  await expectRefused(() => readSidecar(model, [6, 6, 3], 2), 'SIDECAR_INVALID', /is a link to .*outside the folder/, 'labels.txt');
  fs.rmSync(path.join(dir, 'labels.txt'));
  fs.mkdirSync(path.join(dir, 'labels.txt'));
  await expectRefused(() => readSidecar(model, [6, 6, 3], 2), 'SIDECAR_INVALID', /not a regular file \(a folder\)/, 'labels.txt');
  fs.rmSync(path.join(dir, 'labels.txt'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'loupe.json'), '{"labels": "names"}');
  fs.mkdirSync(path.join(dir, 'names'));
  await expectRefused(() => readSidecar(model, [6, 6, 3], 2), 'SIDECAR_INVALID', /a folder/, 'names');
});

test('a loupe.json FIFO is refused, not waited on', async () => {
  const { dir, model } = copyOfGood();
  mkfifo(path.join(dir, 'loupe.json'));
  await expectRefused(() => readSidecar(model, [6, 6, 3], 2), 'SIDECAR_INVALID', /a pipe/, 'loupe.json');
});

test('dataset images of a concept folder that link outside it are refused', async () => {
  const { openFolders } = await import('../src/engine/dissection/probe/folders');
  const root = tempDir('loupe-probe-');
  const outside = tempDir('loupe-outside-');
  fs.mkdirSync(path.join(root, 'red'));
  fs.writeFileSync(path.join(outside, 'x.png'), randomPng(4, 4, 1));
  fs.symlinkSync(path.join(outside, 'x.png'), path.join(root, 'red', 'a.png'));
  fs.writeFileSync(path.join(root, 'red', 'a.mask.png'), randomPng(4, 4, 2));
  const probe = openFolders(root, { maxPixels: 1e6 });
  await expectRefused(() => probe.sample(0), 'IMAGE_INVALID', /is a link to .*outside the folder/, 'a.png');
});

test('outputs go only inside --out: a symlinked output file is replaced, not written through; a symlinked subfolder is refused', async () => {
  const out = tempDir('loupe-out-');
  const outside = tempDir('loupe-outside-');
  const secret = path.join(outside, 'tally.csv');
  fs.writeFileSync(secret, 'keep me');
  fs.symlinkSync(secret, path.join(out, 'tally.csv'));
  const written = await writeRunFiles(out, [{ name: 'tally.csv', bytes: 'unit,concept\n' }, { name: 'report.html', bytes: '<p>' }]);
  assert.deepEqual(written, [path.join(out, 'tally.csv'), path.join(out, 'report.html')]);
  assert.equal(fs.readFileSync(secret, 'utf8'), 'keep me');
  assert.equal(fs.lstatSync(path.join(out, 'tally.csv')).isSymbolicLink(), false);
  assert.equal(fs.readFileSync(path.join(out, 'tally.csv'), 'utf8'), 'unit,concept\n');
  fs.symlinkSync(outside, path.join(out, 'units'));
  await expectRefused(() => writeRunFiles(out, [{ name: 'units/u0.png', bytes: 'x' }]), 'BAD_REQUEST', /is a link to .*outside the output folder/, out);
  assert.deepEqual(fs.readdirSync(outside).sort(), ['tally.csv'], 'nothing was written outside');
  assert.deepEqual(fs.readdirSync(out).filter((n) => n.startsWith('.loupe-run')), [], 'no staging folder left behind');
});

test('an output folder that cannot be written is a clear error naming it, not a stack trace', async () => {
  // A regular file where a folder is needed fails for root too (permissions would not).
  const dir = tempDir('loupe-out-');
  const file = path.join(dir, 'not-a-folder');
  fs.writeFileSync(file, '');
  await expectRefused(() => writeRunFiles(path.join(file, 'sub'), [{ name: 'a.txt', bytes: 'x' }]), 'BAD_REQUEST', /cannot write the outputs: .*ENOTDIR/, file);
});

test('a cache folder that cannot be written is a clear error naming it, not a stack trace', async () => {
  const dir = tempDir('loupe-cache-');
  fs.writeFileSync(path.join(dir, 'file'), '');
  const cacheDir = path.join(dir, 'file', 'cache');
  const e = await Engine.create({ backend: 'wasm', lanes: 1, cacheDir });
  await expectRefused(() => e.dissect(good, { layer: 'c', probe: { kind: 'builtin', count: 2, size: 16 } }), 'BAD_REQUEST',
    /cannot write Loupe's cache folder \(ENOTDIR\)/, cacheDir);
});
