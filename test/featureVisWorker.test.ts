/**
 * Feature visualisation and the Building Blocks through the real worker process (dist/worker.js, build first):
 * progress and preview images arrive, a cancel settles within 500 ms, the cache lists the result, and the
 * worker's Building Blocks equal the in-process engine's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';
import { WorkerClient } from '../src/host/workerClient';
import { savePlantedModel } from './helpers/plantedModel';
import { WORKER_JS } from './workerFixtures';

const CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-fvworker-cache-'));
let client: WorkerClient;
before(() => {
  assert.ok(fs.existsSync(WORKER_JS), 'dist/worker.js is missing: run `node esbuild.mjs` first');
  client = new WorkerClient({ workerPath: WORKER_JS, backend: 'wasm', env: { ...process.env, LOUPE_CACHE_DIR: CACHE } });
});
after(async () => {
  await client.dispose();
  fs.rmSync(CACHE, { recursive: true, force: true });
});

test('visualize: progress and previews arrive, the result is cached and listed', async () => {
  const model = await savePlantedModel();
  const fractions: number[] = [];
  const previews: number[] = [];
  const s = await client.visualize(model, { objective: [{ kind: 'channel', layer: 'detectors', unit: 1 }], params: { steps: 40, previewEvery: 8 } }, {
    onProgress: (f) => fractions.push(f), onPreview: (p) => previews.push(p.step),
  });
  assert.equal(s.values.length, 40);
  assert.ok(fractions.at(-1) === 1 && fractions.length >= 3);
  assert.deepEqual(previews, [8, 16, 24, 32, 40]);
  const listed = await client.cachedFeatureVis(model);
  assert.deepEqual(listed.map((x) => x.dir), [s.dir]);
  const again = await client.visualize(model, { objective: [{ kind: 'channel', layer: 'detectors', unit: 1 }], params: { steps: 40, previewEvery: 8 } });
  assert.equal(again.cached, true);
});

test('visualize: a cancel settles CANCELLED within 500 ms and the worker goes on', async () => {
  const model = await savePlantedModel(); // same weights as above: one cached entry so far
  const before = (await client.cachedFeatureVis(model)).length;
  const controller = new AbortController();
  let abortedAt = 0;
  const outcome = await client.visualize(model, { objective: [{ kind: 'channel', layer: 'detectors', unit: 0 }], params: { steps: 2000 } }, {
    signal: controller.signal,
    onProgress: (f) => {
      if (f > 0.01 && !abortedAt) {
        abortedAt = Date.now();
        controller.abort();
      }
    },
  }).then(() => 'finished', (e: unknown) => e);
  const latency = Date.now() - abortedAt;
  assert.ok(outcome instanceof LoupeError && outcome.code === 'CANCELLED', String(outcome));
  assert.ok(latency <= 500, `settled ${latency} ms after the cancel`);
  assert.equal((await client.cachedFeatureVis(model)).length, before, 'nothing cached from the cancelled run');
});

test('blocks through the worker equal the in-process engine', async () => {
  const model = path.join(__dirname, '../demo/shapes/model/model.json');
  const image = path.join(__dirname, '../demo/images/shape-1-cross.jpg');
  const options = { layer: 'relu4', groups: 3, pathSteps: 10 };
  const viaWorker = await client.blocks(model, image, options);
  const engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  const local = await engine.blocks(model, image, options);
  engine.lanes.stop();
  assert.deepEqual(viaWorker.dictionary, local.dictionary);
  assert.deepEqual(viaWorker.channel.integrated, local.channel.integrated);
  assert.deepEqual(viaWorker.groups.spatial, local.groups.spatial);
});
