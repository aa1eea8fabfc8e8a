// Lanes (src/engine/lanes): SmoothGrad and IG samples computed by worker threads beside the engine's.
// The oracle is the same engine on one thread (whose maps the method tests check against finite
// differences and hand-derived values): with lanes, every statistic must come out the same.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { generateShapes } from '../demo/shapes/dataset';
import * as tf from '@tensorflow/tfjs';
import { gaussianCopies } from '../src/engine/attribution/noiseTunnel';
import { SampleQueue } from '../src/engine/attribution/score';
import type { AttributionContext } from '../src/engine/attribution/types';
import { toModelInput } from '../src/engine/image/preprocess';
import { resizeImage } from '../src/engine/image/resize';
import { gradientSums } from '../src/engine/lanes/gradientSums';
import { resolveParams } from '../src/engine/params';
import { randomizeTopLayers } from '../src/engine/sanity';
import { Engine } from '../src/engine/engine';
import type { RgbaImage } from '../src/engine/types';
import type { ExplainOptions } from '../src/protocol/types';
import { tempDir } from './helpers/models';

const SHAPES = path.resolve('demo/shapes/model/model.json');
const scene = generateShapes({ count: 1, seed: 5 });
const SIZE = Math.round(Math.sqrt(scene.masks[0]!.length));
const IMAGE: RgbaImage = { width: SIZE, height: SIZE, data: Float32Array.from(scene.images[0]!) };
const OPTIONS: ExplainOptions = { methods: ['smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig'], params: { samples: 64, steps: 64, seed: 7 } };

let one: Engine;
let two: Engine;
before(async () => {
  one = await Engine.create({ backend: 'wasm', lanes: 1 });
  two = await Engine.create({ backend: 'wasm', lanes: 2 });
});

/** max |a − b| / max |b|: the sums differ only in the order their float32 terms were added. */
function relativeGap(a: Float32Array, b: Float32Array): number {
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    gap = Math.max(gap, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return gap / scale;
}

async function assertSameMaps(engine: Engine, modelPath: string, wantThreads: number, what: string): Promise<void> {
  const want = await one.explain(modelPath, IMAGE, OPTIONS);
  const got = await engine.explain(modelPath, IMAGE, OPTIONS);
  for (const [i, map] of got.maps.entries()) {
    const method = map.summary.method;
    assert.equal(map.summary.figures.threads, wantThreads, `${what}: ${method} ran on ${map.summary.figures.threads} threads`);
    assert.equal(want.maps[i]!.summary.figures.threads, 1);
    const gap = relativeGap(map.data, want.maps[i]!.data);
    assert.ok(gap < 1e-5, `${what}: ${method} differs from one thread's by ${gap.toExponential(2)} of its largest value`);
  }
}

test('SampleQueue: queues over one buffer claim disjoint ranges that cover every sample once; reclaim hands a failed owner\'s samples back', () => {
  const total = 103;
  const main = new SampleQueue(total);
  const lanes = [1, 2].map((owner) => new SampleQueue(total, owner, main.buffer));
  const seen = new Array<number>(total).fill(0);
  const taken: Record<number, number[]> = { 0: [], 1: [], 2: [] };
  for (let round = 0; ; round++) {
    const q = [main, ...lanes][round % 3]!;
    const range = q.take(1 + (round % 5));
    if (!range) break;
    for (let i = range[0]; i < range[0] + range[1]; i++) {
      seen[i]!++;
      taken[q.owner]!.push(i);
    }
    q.complete(range[1]);
  }
  assert.deepEqual(seen, new Array<number>(total).fill(1));
  assert.equal(main.remaining, 0);
  assert.equal(main.done, total);
  // Lane 2 failed: exactly its samples come back, in contiguous runs, to the queue that reclaims them.
  main.reclaim(2);
  assert.equal(main.remaining, taken[2]!.length);
  const redone: number[] = [];
  for (let range = main.take(4); range; range = main.take(4)) {
    assert.ok(range[1] <= 4);
    for (let i = range[0]; i < range[0] + range[1]; i++) redone.push(i);
  }
  assert.deepEqual(redone, [...taken[2]!].sort((a, b) => a - b));
  assert.equal(lanes[0]!.take(1), undefined, 'another lane got samples after the queue ran out');
});

test('SmoothGrad, SmoothGrad², VarGrad and IG on two threads equal one thread\'s, and the lane took part', async () => {
  await two.warmLanes(SHAPES);
  await assertSameMaps(two, SHAPES, 2, 'two threads');
});

test('a lane stopped mid-run: its samples are computed again by the engine\'s thread, and the maps are unchanged', async () => {
  await two.warmLanes(SHAPES);
  const want = await one.explain(SHAPES, IMAGE, { ...OPTIONS, methods: ['smoothgrad'], params: { ...OPTIONS.params, samples: 200 } });
  const run = two.explain(SHAPES, IMAGE, { ...OPTIONS, methods: ['smoothgrad'], params: { ...OPTIONS.params, samples: 200 } });
  const logged: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { logged.push(args.join(' ')); };
  let got;
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    two.lanes.stop();
    got = await run;
  } finally {
    console.warn = warn;
  }
  assert.ok(logged.some((l) => /a lane failed .*computed by the engine's thread/.test(l)), `the lane was not stopped mid-run: ${logged.join('; ')}`);
  assert.equal(got.maps[0]!.summary.figures.threads, 1, 'the stopped lane\'s partial sum was used');
  const gap = relativeGap(got.maps[0]!.data, want.maps[0]!.data);
  assert.ok(gap < 1e-5, `after the lane stopped, SmoothGrad differs by ${gap.toExponential(2)}`);
  // The next run starts a new lane.
  await two.warmLanes(SHAPES);
  await assertSameMaps(two, SHAPES, 2, 'after a restart');
});

test('a lane that finds other weights on disk than the engine loaded computes nothing; the engine\'s thread does it all, on its weights', async () => {
  const dir = tempDir();
  const folder = path.dirname(SHAPES);
  for (const f of fs.readdirSync(folder)) fs.copyFileSync(path.join(folder, f), path.join(dir, f));
  const modelPath = path.join(dir, 'model.json');
  const fresh = await Engine.create({ backend: 'wasm', lanes: 2 });
  const want = await one.explain(modelPath, IMAGE, OPTIONS);
  await fresh.warmLanes(modelPath); // the engine's thread and the lane load the weights as they are now
  await assertSameMaps(fresh, modelPath, 2, 'before the checkpoint'); // the lane computes, on the same weights
  await fresh.warmLanes(SHAPES); // the lane now holds another model, so it reads the copy's files again
  // Training writes a new checkpoint: same model.json (the engine keys its cache on it), other weights.
  const manifest = JSON.parse(fs.readFileSync(modelPath, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  const shard = path.join(dir, manifest.weightsManifest[0]!.paths[0]!);
  const bytes = fs.readFileSync(shard);
  new Float32Array(bytes.buffer, bytes.byteOffset, 16).fill(0.5);
  const before = fs.statSync(modelPath, { bigint: true });
  fs.writeFileSync(shard, bytes);
  assert.equal(fs.statSync(modelPath, { bigint: true }).mtimeNs, before.mtimeNs);
  const got = await fresh.explain(modelPath, IMAGE, OPTIONS);
  for (const [i, map] of got.maps.entries()) {
    assert.equal(map.summary.figures.threads, 1, `${map.summary.method}: a lane computed with the new weights`);
    assert.ok(relativeGap(map.data, want.maps[i]!.data) < 1e-5, `${map.summary.method} is not the loaded weights' map`);
  }
});

test('Engine.create refuses a lane count that is not a positive integer', async () => {
  await assert.rejects(Engine.create({ lanes: 0 }), /lanes must be a positive integer \(got 0\)/);
  await assert.rejects(Engine.create({ lanes: 1.5 }), /lanes must be a positive integer/);
});

test('a run too small to gain from lanes stays on the engine\'s thread', async () => {
  const digits = path.resolve('demo/digits/model/model.json');
  await two.warmLanes(digits);
  const digit: RgbaImage = { width: 28, height: 28, data: new Float32Array(28 * 28 * 4).fill(255) };
  const result = await two.explain(digits, digit, { methods: ['smoothgrad', 'ig'], params: { samples: 4, steps: 4 } });
  for (const map of result.maps) assert.equal(map.summary.figures.threads, 1, `${map.summary.method} on 4 digit samples used a lane`);
});

test('the sanity check\'s re-initialised weights are rebuilt in the lane: the same sums as one thread, with the lane taking part', async () => {
  await two.warmLanes(SHAPES);
  const model = await two.model(SHAPES);
  const [h, w, c] = model.graph.inputShape;
  const input = tf.tensor4d(toModelInput(resizeImage(IMAGE, w, h), model.description.preprocessing, c), [1, h, w, c]);
  const sanity = randomizeTopLayers(model.graph, 2, 7);
  try {
    const ctx: AttributionContext = {
      model, input, image: IMAGE, preprocessing: model.description.preprocessing, target: { classIndex: 1, kind: 'logit' },
      params: resolveParams({}), layer: '', weights: sanity.store, weightsVariant: sanity.variant, hooks: {}, lanes: two.lanes,
    };
    const args = { sigma: 0.3, seed: 4 };
    const shared = await gradientSums(ctx, gaussianCopies, args, 64, 'SmoothGrad', true);
    const alone = await gradientSums({ ...ctx, lanes: undefined }, gaussianCopies, args, 64, 'SmoothGrad', true);
    const own = await gradientSums({ ...ctx, lanes: undefined, weights: model.graph.weights, weightsVariant: undefined }, gaussianCopies, args, 64, 'SmoothGrad', true);
    assert.equal(shared.threads, 2, 'the lane did not compute with the re-initialised weights');
    assert.equal(alone.threads, 1);
    assert.ok(relativeGap(shared.sum, alone.sum) < 1e-5 && relativeGap(shared.sumSq!, alone.sumSq!) < 1e-5, 'the lane\'s weights differ from the engine\'s');
    assert.ok(relativeGap(own.sum, alone.sum) > 1e-2, 'not vacuous: re-initialised weights give other gradients');
  } finally {
    input.dispose();
    sanity.store.dispose();
  }
});
