// The preprocessing override (the `loupe.preprocessing` setting): the oracle is the same model with
// the same values written in its loupe.json, which the sidecar tests check against the formula.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { generateShapes } from '../demo/shapes/dataset';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import type { RgbaImage } from '../src/engine/types';
import type { ExplainOptions, Preprocessing } from '../src/protocol/types';
import { tempDir } from './helpers/models';

const SHAPES = path.resolve('demo/shapes/model/model.json');
const scene = generateShapes({ count: 1, seed: 9 });
const SIZE = Math.round(Math.sqrt(scene.masks[0]!.length));
const IMAGE: RgbaImage = { width: SIZE, height: SIZE, data: Float32Array.from(scene.images[0]!) };
const CUSTOM: Preprocessing = { range: [-1, 1], mean: [0.1, 0, -0.1], std: [0.5, 0.6, 0.7], channels: 'bgr' };

/** A copy of the shapes model whose loupe.json "input" is `input` (none: no "input" at all). */
function copyWith(input: Partial<Preprocessing> | undefined): string {
  const dir = tempDir();
  const folder = path.dirname(SHAPES);
  for (const f of fs.readdirSync(folder)) fs.copyFileSync(path.join(folder, f), path.join(dir, f));
  const sidecar = JSON.parse(fs.readFileSync(path.join(dir, 'loupe.json'), 'utf8')) as { input?: unknown };
  if (input) sidecar.input = input;
  else delete sidecar.input;
  fs.writeFileSync(path.join(dir, 'loupe.json'), JSON.stringify(sidecar));
  return path.join(dir, 'model.json');
}

let engine: Engine;
// On wasm, one thread: equal inputs give bit-equal maps (ONNX Runtime's batch sums depend on how samples were batched).
before(async () => { engine = await Engine.create({ backend: 'wasm', lanes: 1 }); });

test('an override gives the predictions and maps of a model whose loupe.json says the same', async () => {
  const plain = copyWith(undefined);
  const written = copyWith(CUSTOM);
  // One sample per batch: batch sizes adapt to measured time, and how samples are batched changes the sums' rounding.
  const options: ExplainOptions = { methods: ['gradient', 'ig', 'gradcam', 'occlusion'], params: { steps: 8, maxBatch: 1 } };
  const want = await engine.explain(written, IMAGE, options);
  const got = await engine.explain(plain, IMAGE, { ...options, preprocessing: CUSTOM });
  const without = await engine.explain(plain, IMAGE, options);
  assert.deepEqual(got.summary.preprocessing, CUSTOM);
  assert.deepEqual(got.summary.predictions, want.summary.predictions);
  for (const [i, map] of got.maps.entries()) {
    assert.deepEqual(Array.from(map.data), Array.from(want.maps[i]!.data), `${map.summary.method} differs from the sidecar's`);
  }
  // Not vacuous: without the override the same file gives other numbers.
  assert.notDeepEqual(without.summary.predictions.map((p) => p.logit), want.summary.predictions.map((p) => p.logit));
  const predicted = await engine.predict(plain, IMAGE, 3, CUSTOM);
  assert.deepEqual(predicted, want.summary.predictions.slice(0, 3));
});

test('keys the override leaves out keep the model\'s loupe.json values', async () => {
  const written = copyWith(CUSTOM);
  const result = await engine.explain(written, IMAGE, { methods: ['gradient'], preprocessing: { std: [2] } });
  assert.deepEqual(result.summary.preprocessing, { ...CUSTOM, std: [2] });
  const oracle = await engine.explain(copyWith({ ...CUSTOM, std: [2] }), IMAGE, { methods: ['gradient'] });
  assert.deepEqual(Array.from(result.maps[0]!.data), Array.from(oracle.maps[0]!.data));
});

test('a bad override is a BAD_REQUEST naming the key, and the model stays usable', async () => {
  const cases: [unknown, RegExp][] = [
    [{ std: [1, 0, 1] }, /"preprocessing.std" must not contain 0/],
    [{ mean: [1, 2] }, /"preprocessing.mean" has 2 values but the model input has 3 channels/],
    [{ range: [1, 0] }, /"preprocessing.range" must have min < max/],
    [{ channels: 'gray' }, /"preprocessing.channels" is "gray" but the model input has 3 channels/],
    [{ scale: 2 }, /unknown key "preprocessing.scale"/],
    ['rgb', /"preprocessing" must be an object/],
  ];
  for (const [override, pattern] of cases) {
    await assert.rejects(engine.explain(SHAPES, IMAGE, { methods: ['gradient'], preprocessing: override as Partial<Preprocessing> }), (err: unknown) => {
      assert.ok(err instanceof LoupeError && err.code === 'BAD_REQUEST', String(err));
      assert.match(err.message, pattern);
      return true;
    });
  }
  assert.equal((await engine.explain(SHAPES, IMAGE, { methods: ['gradient'] })).maps.length, 1);
});

test('dissection is cached per preprocessing: another override is another dissection, the same one is read back', async () => {
  const cacheDir = tempDir();
  const dissecting = await Engine.create({ lanes: 1, cacheDir });
  const options = { layer: 'relu1', probe: { kind: 'builtin' as const, count: 12, size: 64 } };
  const plain = await dissecting.dissect(SHAPES, options);
  const custom = await dissecting.dissect(SHAPES, { ...options, preprocessing: { std: [0.25] } });
  const again = await dissecting.dissect(SHAPES, { ...options, preprocessing: { std: [0.25] } });
  assert.equal(plain.cached, false);
  assert.equal(custom.cached, false, 'the override was answered from the cache of the model\'s own preprocessing');
  assert.notEqual(custom.dir, plain.dir);
  assert.equal(again.cached, true);
  assert.equal(again.dir, custom.dir);
});
