import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import { readModelFiles } from '../src/engine/io/modelFiles';
import { saveModel, tempDir } from './helpers/models';

let good: string;
before(async () => {
  const input = tf.input({ shape: [4, 4, 1] });
  const c = tf.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 2 }).apply(tf.layers.flatten().apply(c) as tf.SymbolicTensor) as tf.SymbolicTensor;
  good = await saveModel(tf.model({ inputs: input, outputs: out }));
});

/** A copy of the good model whose model.json / shard the caller damages. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the damage reaches anywhere into the JSON
function damagedCopy(edit: (json: Record<string, any>, dir: string) => void): string {
  const dir = tempDir();
  for (const f of fs.readdirSync(path.dirname(good))) fs.copyFileSync(path.join(path.dirname(good), f), path.join(dir, f));
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json, dir);
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

function expectError(fn: () => unknown, code: string, pattern: RegExp, file: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LoupeError, `not a LoupeError: ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    return true;
  });
}

test('a good model reads, and its fingerprint input covers model.json and the shard', () => {
  const files = readModelFiles(good);
  assert.equal(files.format, 'layers');
  assert.equal(files.fingerprintParts.length, 2);
});

test('a truncated shard is refused with the byte counts', () => {
  const file = damagedCopy((_j, dir) => {
    const shard = path.join(dir, 'weights.bin');
    fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 10));
  });
  expectError(() => readModelFiles(file), 'WEIGHTS_INVALID', /holds 10 bytes but the manifest describes \d+/, 'weights.bin');
});

test('a weight path leaving the model folder is refused without reading it', () => {
  const file = damagedCopy((j) => { j.weightsManifest[0].paths = ['../../x']; });
  expectError(() => readModelFiles(file), 'WEIGHTS_INVALID', /'\.\.\/\.\.\/x' leaves the model's folder/, file);
  const abs = damagedCopy((j) => { j.weightsManifest[0].paths = ['/etc/passwd']; });
  expectError(() => readModelFiles(abs), 'WEIGHTS_INVALID', /leaves the model's folder/, abs);
});

test('a missing shard, broken JSON and a non-model JSON are refused', () => {
  const missing = damagedCopy((j) => { j.weightsManifest[0].paths = ['nope.bin']; });
  expectError(() => readModelFiles(missing), 'WEIGHTS_INVALID', /'nope.bin' listed in model.json is missing/, 'nope.bin');
  const dir = tempDir();
  const broken = path.join(dir, 'model.json');
  fs.writeFileSync(broken, '{"modelTopology": ');
  expectError(() => readModelFiles(broken), 'MODEL_INVALID', /not valid JSON/, broken);
  fs.writeFileSync(broken, '{"hello": 1}');
  expectError(() => readModelFiles(broken), 'MODEL_INVALID', /no "modelTopology"/, broken);
  expectError(() => readModelFiles(path.join(dir, 'absent.json')), 'MODEL_NOT_FOUND', /cannot read/, 'absent.json');
});

test('a dtype the manifest cannot describe, and shapes that do not fit the layers, are refused', async () => {
  const dtype = damagedCopy((j) => { j.weightsManifest[0].weights[0].dtype = 'complex64'; });
  expectError(() => readModelFiles(dtype), 'MODEL_INVALID', /dtype 'complex64'/, dtype);
  // Same byte count, wrong shape: the kernel [3,3,1,2] declared as [3,3,2,1].
  const shape = damagedCopy((j) => {
    const kernel = j.weightsManifest[0].weights.find((w: { name: string; shape: number[] }) => w.name.endsWith('kernel') && w.shape.length === 4);
    kernel.shape = [3, 3, 2, 1];
  });
  const engine = await Engine.create();
  await assert.rejects(engine.describe(shape), (e: unknown) => {
    assert.ok(e instanceof LoupeError);
    assert.equal(e.code, 'WEIGHTS_INVALID');
    assert.ok(e.message.includes(shape));
    return true;
  });
});

test('a Sequential model (whose input layer is implicit) loads, and its softmax head is stripped', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, name: 'c1', activation: 'relu' }),
    tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ] });
  const description = await (await Engine.create()).describe(await saveModel(model));
  assert.deepEqual(description.layers.map((l) => l.name).slice(1), ['c1', 'flat', 'out']);
  assert.equal(description.head, 'softmax');
  assert.equal(description.defaultCamLayer, 'c1');
});
