// The host's dissection calls against the real worker (dist/worker.js, built by esbuild.mjs) on a
// small CNN: progress, the result's shape (from the model's definition), strip files where the panel
// looks for them, the disk cache read back by `cachedDissections`, and a cancel that leaves no entry.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { CancelledError } from '../src/protocol/errors';
import { HostWorkerClient } from '../src/host/hostClient';
import { imageRoots, stripPath, toDissectView } from '../src/host/panels/dissectData';
import type { DissectionSummary } from '../src/protocol/types';
import { tempDir } from './helpers/models';
import { CAM_LAYER, CAM_SHAPE, makeFixtures, WORKER_JS, type Fixtures } from './workerFixtures';

/** `last_conv` has 8 filters (workerFixtures.ts). */
const CAM_FILTERS = 8;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let fx: Fixtures;
let cache: string;
let client: HostWorkerClient;
const states: string[] = [];

before(async () => {
  assert.ok(fs.existsSync(WORKER_JS), `${WORKER_JS} is missing: run node esbuild.mjs`);
  fx = await makeFixtures();
  cache = tempDir('loupe-dissect-cache-');
  client = new HostWorkerClient(
    { workerPath: WORKER_JS, env: { ...process.env, LOUPE_CACHE_DIR: cache, LOUPE_BACKEND: 'wasm' } },
    { onState: (s) => states.push(s), onBackend: () => undefined, onCrash: () => undefined },
  );
});

after(async () => {
  await client?.dispose();
  if (cache) fs.rmSync(cache, { recursive: true, force: true });
  if (fx) fs.rmSync(fx.dir, { recursive: true, force: true });
});

const probe = { kind: 'builtin' as const, count: 24, size: 48, seed: 3 };

test('dissect reports progress and returns one unit per channel, with strips inside the cache', { timeout: 120_000 }, async () => {
  assert.deepEqual(await client.cachedDissections(fx.model), []);
  const fractions: number[] = [];
  const s = await client.dissect(fx.model, { layer: CAM_LAYER, probe, topImages: 3 }, { onProgress: (f) => fractions.push(f) });
  assert.equal(s.layer, CAM_LAYER);
  assert.deepEqual(s.layerShape, [...CAM_SHAPE, CAM_FILTERS]);
  assert.deepEqual(s.units.map((u) => u.unit), [...Array(CAM_FILTERS).keys()]);
  assert.equal(s.cached, false);
  assert.equal(s.probe.images, probe.count);
  assert.equal(s.interpretable, s.units.filter((u) => u.interpretable).length);
  for (const u of s.units) assert.equal(u.interpretable, u.iou > s.params.iouThreshold, `unit ${u.unit}`);
  assert.ok(fractions.length > 0, 'no progress');
  for (let i = 1; i < fractions.length; i++) assert.ok(fractions[i]! >= fractions[i - 1]!, `progress went back: ${fractions.join(', ')}`);
  assert.ok(fractions.every((f) => f >= 0 && f <= 1));

  // Where the panel loads strips from: inside the cache root the host passes as LOUPE_CACHE_DIR.
  assert.deepEqual(imageRoots(cache, [s]), [cache]);
  for (const u of s.units) {
    const file = stripPath(s, u.strip);
    assert.ok(file, `unit ${u.unit}: strip "${u.strip}" is not inside ${s.dir}`);
    assert.ok(fs.readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE), `${file} is not a PNG`);
  }
  assert.ok(toDissectView(s, 'fixture', (f) => f).strips.every((x) => x.length > 0));
  assert.equal(states.at(-1), 'idle');
});

test('cachedDissections reads the result back; the same request is answered from the cache', { timeout: 60_000 }, async () => {
  const [cached, ...rest] = await client.cachedDissections(fx.model);
  assert.equal(rest.length, 0);
  assert.ok(cached);
  assert.equal(cached.layer, CAM_LAYER);
  assert.equal(cached.cached, true);
  const again = await client.dissect(fx.model, { layer: CAM_LAYER, probe, topImages: 3 });
  assert.equal(again.cached, true);
  const brief = (x: DissectionSummary): unknown => x.units.map((u) => [u.unit, u.label, u.iou]);
  assert.deepEqual(brief(again), brief(cached));
});

test('a cancelled dissection rejects with CancelledError and leaves no cache entry', { timeout: 60_000 }, async () => {
  const controller = new AbortController();
  const run = client.dissect(fx.model, { layer: 'conv1', probe: { kind: 'builtin', count: 2000, size: 48 } }, {
    signal: controller.signal,
    onProgress: () => controller.abort(),
  });
  await assert.rejects(run, (err: unknown) => err instanceof CancelledError);
  const layers = (await client.cachedDissections(fx.model)).map((s) => s.layer);
  assert.deepEqual(layers, [CAM_LAYER]);
});
