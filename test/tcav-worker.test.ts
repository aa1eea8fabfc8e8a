// TCAV through the real worker (dist/worker.js) and the real CLI (dist/cli.js), both built by esbuild.mjs:
// progress, the result's shape (from the model's definition), the cache read back by `cachedTcav`, a
// cancel that leaves no entry, a malformed request refused at the worker's door, and the CLI's files,
// whose tcav.csv matches what the worker computed for the same inputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { PNG } from 'pngjs';
import { drawConceptImage } from '../src/engine/dissection/probe/conceptImages';
import { CancelledError, LoupeError } from '../src/protocol/errors';
import { HostWorkerClient } from '../src/host/hostClient';
import { tcavCsv, type TcavOptions } from '../src/protocol/tcav';
import { tempDir } from './helpers/models';
import { CAM_LAYER, CAM_SHAPE, CLI_JS, makeFixtures, NUM_CLASSES, WORKER_JS, type Fixtures } from './workerFixtures';

let fx: Fixtures;
let cache: string;
let classDir: string;
let client: HostWorkerClient;

before(async () => {
  assert.ok(fs.existsSync(WORKER_JS) && fs.existsSync(CLI_JS), 'dist/worker.js or dist/cli.js is missing: run node esbuild.mjs');
  fx = await makeFixtures();
  cache = tempDir('loupe-tcav-worker-cache-');
  classDir = path.join(fx.dir, 'class');
  fs.mkdirSync(classDir);
  for (let i = 0; i < 4; i++) {
    const img = drawConceptImage('random', 32, 9, i);
    const png = new PNG({ width: img.width, height: img.height });
    for (let k = 0; k < img.data.length; k++) png.data[k] = img.data[k]!;
    fs.writeFileSync(path.join(classDir, `c${i}.png`), PNG.sync.write(png));
  }
  client = new HostWorkerClient(
    { workerPath: WORKER_JS, env: { ...process.env, LOUPE_CACHE_DIR: cache, LOUPE_BACKEND: 'wasm' } },
    { onState: () => undefined, onBackend: () => undefined, onCrash: () => undefined },
  );
});

after(async () => {
  await client?.dispose();
  for (const d of [cache, fx?.dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const options = (extra: Partial<TcavOptions> = {}): TcavOptions => ({
  classIndex: 1, classImages: classDir, concepts: [{ kind: 'builtin', name: 'red' }, { kind: 'builtin', name: 'vertical-stripes' }],
  layers: [CAM_LAYER, 'gap'], runs: 5, imagesPerSet: 8, seed: 3, ...extra,
});

test('loupe/tcav reports progress and returns a result per layer and concept; cachedTcav reads it back', { timeout: 120_000 }, async () => {
  assert.deepEqual(await client.cachedTcav(fx.model), []);
  const fractions: number[] = [];
  const r = await client.tcav(fx.model, options(), { onProgress: (f) => fractions.push(f) });
  assert.deepEqual(r.layers.map((l) => [l.layer, l.shape]), [[CAM_LAYER, [...CAM_SHAPE, 8]], ['gap', [8]]]);
  assert.deepEqual(r.layers[0]!.concepts.map((c) => c.concept), ['red', 'vertical stripes']);
  assert.equal(r.params.tests, 4);
  assert.equal(r.classImages.images, 4);
  for (const l of r.layers) for (const c of l.concepts) assert.equal(c.runs.length, 5);
  assert.ok(fractions.length > 0 && fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!)), fractions.join(', '));
  const [cached, ...rest] = await client.cachedTcav(fx.model);
  assert.equal(rest.length, 0);
  assert.equal(cached!.cached, true);
  assert.equal(cached!.key, r.key);
  assert.deepEqual(cached!.layers, r.layers);
});

test('a cancelled run rejects with CancelledError and leaves no cache entry', { timeout: 60_000 }, async () => {
  const controller = new AbortController();
  const run = client.tcav(fx.model, options({ seed: 4, runs: 30 }), { signal: controller.signal, onProgress: () => controller.abort() });
  await assert.rejects(run, CancelledError);
  assert.equal((await client.cachedTcav(fx.model)).length, 1);
  const partial = fs.readdirSync(path.join(cache, 'tcav'), { recursive: true }).map(String).filter((f) => f.includes('.partial-'));
  assert.deepEqual(partial, []);
});

test('a malformed request is refused at the worker\'s door; a class out of range is named', { timeout: 60_000 }, async () => {
  await assert.rejects(client.tcav(fx.model, { classIndex: 0 } as TcavOptions), (e: unknown) => e instanceof LoupeError && /options must be an object with classIndex/.test(e.message));
  await assert.rejects(client.tcav(fx.model, options({ classIndex: NUM_CLASSES })), (e: unknown) => e instanceof LoupeError
    && e.code === 'BAD_REQUEST' && e.message.includes(`class ${NUM_CLASSES} does not exist`));
});

test('loupe tcav writes tcav.csv, tcav.json and tcav.png; the csv is the one the worker computed for the same inputs', { timeout: 120_000 }, async () => {
  const out = tempDir('loupe-tcav-cli-');
  const cliCache = tempDir('loupe-tcav-cli-cache-');
  try {
    const r = spawnSync(process.execPath, [CLI_JS, 'tcav', '--model', fx.model, '--class', '1', '--images', classDir,
      '--concepts', 'builtin:red,builtin:vertical-stripes', '--layers', `${CAM_LAYER},gap`, '--runs', '5', '--images-per-set', '8',
      '--seed', '3', '--backend', 'wasm', '--out', out], { encoding: 'utf8', env: { ...process.env, LOUPE_CACHE_DIR: cliCache }, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /TCAV of class 1/);
    const worker = await client.tcav(fx.model, options());
    assert.equal(fs.readFileSync(path.join(out, 'tcav.csv'), 'utf8'), tcavCsv(worker));
    const json = JSON.parse(fs.readFileSync(path.join(out, 'tcav.json'), 'utf8')) as { layers: unknown[]; dir?: string };
    assert.equal(json.layers.length, 2);
    assert.equal(json.dir, undefined);
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'tcav.png')));
    assert.ok(png.width > 300 && png.height > 200, `${png.width}×${png.height}`);

    const usage = spawnSync(process.execPath, [CLI_JS, 'tcav', '--model', fx.model, '--out', out], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /tcav needs --concepts/);
    const badClass = spawnSync(process.execPath, [CLI_JS, 'tcav', '--model', fx.model, '--class', 'zebra', '--images', classDir,
      '--concepts', 'builtin:red', '--layers', CAM_LAYER, '--out', out], { encoding: 'utf8', env: { ...process.env, LOUPE_CACHE_DIR: cliCache } });
    assert.equal(badClass.status, 1);
    assert.match(badClass.stderr, /no class labelled 'zebra'/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(cliCache, { recursive: true, force: true });
  }
});
