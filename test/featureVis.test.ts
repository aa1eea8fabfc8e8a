import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { Engine } from '../src/engine/engine';
import { CancelledError } from '../src/protocol/errors';
import { gradients } from '../src/engine/model/executor';
import { loadModel } from '../src/engine/model/loader';
import type { FeatureVisSummary } from '../src/protocol/featureVis';
import { buildRedirectModel, lucidRedirected, redirectInputs, REDIRECT_WEIGHTS, saveColourModel, saveGrayModel } from './helpers/featureVisModels';
import { rng, saveModel, tempDir } from './helpers/models';
import { PLANTED_UNITS, savePlantedModel } from './helpers/plantedModel';

/**
 * Feature visualisation on planted models (units built by hand to detect a colour or an orientation): the
 * rendered image must show what the unit detects, the objective must rise, the seed must reproduce the image.
 * Lucid's redirected ReLU gradient is checked against its formula written out here.
 */

// Every render test runs on both engines: TF.js (wasm) and ONNX Runtime, each with its own cache.
const BACKENDS = ['wasm', 'onnxruntime'] as const;
const engines = new Map<string, { engine: Engine; cacheDir: string }>();

before(async () => {
  for (const backend of BACKENDS) {
    const cacheDir = tempDir(`loupe-fv-cache-${backend}-`);
    engines.set(backend, { engine: await Engine.create({ backend, cacheDir }), cacheDir });
  }
});
after(() => {
  for (const { engine, cacheDir } of engines.values()) {
    engine.lanes.stop();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

function readPng(file: string): { width: number; height: number; data: Buffer } {
  return PNG.sync.read(fs.readFileSync(file));
}

function channelMeans(png: { width: number; height: number; data: Buffer }): [number, number, number] {
  const sums = [0, 0, 0];
  const n = png.width * png.height;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) sums[c]! += png.data[i * 4 + c]! / 255;
  return sums.map((s) => s / n) as [number, number, number];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Energy of the gray image's DFT at frequencies with |fy| > |fx| and with |fx| > |fy| (separable DFT, mean removed). */
function orientationEnergy(png: { width: number; height: number; data: Buffer }): { vertical: number; horizontal: number } {
  const { width: w, height: h } = png;
  const g = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) g[i] = (png.data[i * 4]! + png.data[i * 4 + 1]! + png.data[i * 4 + 2]!) / 765;
  const m = g.reduce((a, b) => a + b, 0) / g.length;
  for (let i = 0; i < g.length; i++) g[i]! -= m;
  // rows: X[y, kx]; then columns: F[ky, kx]
  const re = new Float64Array(w * h);
  const im = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let kx = 0; kx < w; kx++) {
      let a = 0;
      let b = 0;
      for (let x = 0; x < w; x++) {
        const t = (-2 * Math.PI * kx * x) / w;
        a += g[y * w + x]! * Math.cos(t);
        b += g[y * w + x]! * Math.sin(t);
      }
      re[y * w + kx] = a;
      im[y * w + kx] = b;
    }
  }
  let vertical = 0;
  let horizontal = 0;
  for (let ky = 0; ky < h; ky++) {
    for (let kx = 0; kx < w; kx++) {
      let a = 0;
      let b = 0;
      for (let y = 0; y < h; y++) {
        const t = (-2 * Math.PI * ky * y) / h;
        const c = Math.cos(t);
        const s = Math.sin(t);
        a += re[y * w + kx]! * c - im[y * w + kx]! * s;
        b += re[y * w + kx]! * s + im[y * w + kx]! * c;
      }
      const fy = Math.min(ky, h - ky) / h;
      const fx = Math.min(kx, w - kx) / w;
      const e = a * a + b * b;
      if (fy > fx) vertical += e;
      else if (fx > fy) horizontal += e;
    }
  }
  return { vertical, horizontal };
}

for (const backend of BACKENDS) {
  const engine = () => engines.get(backend)!.engine;
  const cacheDir = () => engines.get(backend)!.cacheDir;

  test(`${backend}: a red (green, blue) unit renders an image whose red (green, blue) mean clearly exceeds the others`, async () => {
    const model = await saveColourModel();
    for (const [unit, name] of ['red', 'green', 'blue'].entries()) {
      const s = await engine().visualize(model, { objective: [{ kind: 'channel', layer: 'colour', unit }], params: { steps: 256 } });
      assert.deepEqual(s.imageShape, [32, 32, 3], 'image at the model input size (smaller than 128)');
      const means = channelMeans(readPng(path.join(s.dir, s.image)));
      const others = means.filter((_, c) => c !== unit);
      assert.ok(others.every((o) => means[unit]! > o + 0.25), `${name} unit: channel means ${means.map((m) => m.toFixed(3))}`);
    }
  });

  test(`${backend}: a horizontal-stripes unit renders mostly vertical-frequency energy, and the objective rises`, async () => {
    const model = await savePlantedModel();
    const s = await engine().visualize(model, {
      objective: [{ kind: 'channel', layer: 'detectors', unit: PLANTED_UNITS.horizontalStripes }], params: { steps: 128 },
    });
    const { vertical, horizontal } = orientationEnergy(readPng(path.join(s.dir, s.image)));
    assert.ok(vertical > 3 * horizontal, `vertical-frequency energy ${vertical.toExponential(2)} vs horizontal ${horizontal.toExponential(2)}`);
    assert.equal(s.values.length, 128);
    const first = mean(s.values.slice(0, 16));
    const last = mean(s.values.slice(-16));
    assert.ok(last > 5 * first && last > 0.5, `objective ${first.toFixed(3)} over the first 16 steps, ${last.toFixed(3)} over the last 16`);
    assert.ok(s.msPerStep.parameterisation > 0 && s.msPerStep.model > 0);
  });

  test(`${backend}: the same seed reproduces the image; another seed does not; the cache answers a repeated request`, async () => {
    const model = await saveColourModel();
    const objective = [{ kind: 'neuron' as const, layer: 'colour', unit: 1 }];
    const a = await engine().visualize(model, { objective, params: { steps: 12, seed: 5 }, refresh: true });
    const aBytes = fs.readFileSync(path.join(a.dir, a.image));
    const b = await engine().visualize(model, { objective, params: { steps: 12, seed: 5 }, refresh: true });
    assert.equal(b.cached, false);
    assert.ok(aBytes.equals(fs.readFileSync(path.join(b.dir, b.image))), 'same seed, same image');
    assert.deepEqual(a.values, b.values);
    const c = await engine().visualize(model, { objective, params: { steps: 12, seed: 6 } });
    assert.notEqual(c.dir, b.dir);
    assert.ok(!aBytes.equals(fs.readFileSync(path.join(c.dir, c.image))), 'another seed, another image');
    const again = await engine().visualize(model, { objective, params: { steps: 12, seed: 5 } });
    assert.equal(again.cached, true);
    assert.equal(again.dir, b.dir);
    const listed = await engine().cachedFeatureVis(model);
    assert.ok(listed.some((s: FeatureVisSummary) => s.dir === b.dir) && listed.some((s) => s.dir === c.dir));
  });

  test(`${backend}: a batch with the diversity penalty renders different images; grayscale models get a 1-channel image`, async () => {
    const model = await saveColourModel();
    const s = await engine().visualize(model, {
      objective: [{ kind: 'channel', layer: 'colour', unit: 0 }, { kind: 'diversity', layer: 'colour', weight: -100 }],
      params: { steps: 24, batch: 3 },
    });
    assert.equal(s.images.length, 3);
    const imgs = s.images.map((f) => readPng(path.join(s.dir, f)).data);
    assert.ok(!imgs[0]!.equals(imgs[1]!) && !imgs[1]!.equals(imgs[2]!));
    assert.equal(readPng(path.join(s.dir, s.image)).width, 3 * 32 + 2 * 2, 'the batch side by side');

    const gray = await saveGrayModel();
    const g = await engine().visualize(gray, { objective: [{ kind: 'channel', layer: 'edges', unit: 0 }], params: { steps: 48 } });
    assert.deepEqual(g.imageShape, [40, 40, 1]);
    assert.ok(g.notes.some((n) => /not decorrelated/.test(n)));
    assert.ok(mean(g.values.slice(-8)) > mean(g.values.slice(0, 8)), 'objective rises on the grayscale model');
  });

  test(`${backend}: cancel stops a run within 500 ms and leaves no cache entry; previews arrive`, async () => {
    const model = await savePlantedModel();
    const abort = new AbortController();
    let abortedAt = 0;
    const previews: number[] = [];
    const run = engine().visualize(model, {
      objective: [{ kind: 'channel', layer: 'detectors', unit: 1 }], params: { steps: 400, previewEvery: 4 }, refresh: true,
    }, {
      signal: abort.signal,
      onPreview: (p) => {
        previews.push(p.step);
        assert.ok(Buffer.from(p.png, 'base64').subarray(1, 4).toString() === 'PNG');
      },
      onProgress: (f) => {
        if (f > 0.05 && !abortedAt) {
          abortedAt = performance.now();
          abort.abort();
        }
      },
    });
    await assert.rejects(run, (e) => e instanceof CancelledError);
    const latency = performance.now() - abortedAt;
    assert.ok(latency < 500, `cancelled after ${latency.toFixed(0)} ms`);
    assert.ok(previews.length >= 4 && previews[0] === 4, `previews at ${previews.join(', ')}`);
    const partial = fs.readdirSync(path.join(cacheDir(), 'featurevis'), { recursive: true }).filter((n) => String(n).includes('.partial-'));
    assert.deepEqual(partial, []);
  });

  test(`${backend}: bad requests are refused with what to do`, async () => {
    const model = await saveColourModel();
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'channel', layer: 'nope', unit: 0 }] }), /not a layer whose units can be visualised.*colour/);
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'channel', layer: 'colour', unit: 3 }] }), /unit 3 is out of range.*0–2/);
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'direction', layer: 'colour', vector: [1, 2] }] }), /needs 3 finite numbers/);
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'diversity', layer: 'colour' }] }), /batch of at least 2/);
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'channel', layer: 'colour', unit: 0 }], params: { steps: 0 } }), /steps must be an integer/);
    await assert.rejects(engine().visualize(model, { objective: [{ kind: 'channel', layer: 'colour', unit: 0 }], params: { stpes: 3 } as never }), /unknown feature visualisation parameter 'stpes'/);
  });
}

test('the redirected ReLU rule equals Lucid\'s formula, per batch element, fused and unfused, ReLU and ReLU6', async () => {
  const r = rng(77);
  for (const max of [Infinity, 6]) {
    const file = await saveModel(buildRedirectModel(Number.isFinite(max) ? max : undefined));
    const loaded = await loadModel(file);
    const graph = loaded.graph;
    const input = redirectInputs(r);
    const dyValues = Float32Array.from({ length: 3 * 16 * 3 }, () => r() * 2 - 1);
    const x = tf.tensor4d(input, [3, 4, 4, 3]);
    const seed = () => tf.tensor4d(dyValues, [3, 4, 4, 3]);
    // pre-activations of 'c', by hand: x · W
    const pre = new Float32Array(3 * 16 * 3);
    for (let p = 0; p < 48; p++) for (let o = 0; o < 3; o++) for (let i = 0; i < 3; i++) pre[p * 3 + o]! += input[p * 3 + i]! * REDIRECT_WEIGHTS[i]![o]!;
    const expected = lucidRedirected(pre, dyValues, 3, max);
    // unfused: 'c' is read, so the ReLU layer runs on its own with the rule
    const unfused = tf.tidy(() => gradients(graph, x, { outputs: ['r'], wrt: 'c', rule: 'redirected', seed }).gradient.dataSync());
    // fused: gradient to the input through the fused conv + ReLU unit; expected dx = dC · Wᵀ
    const fused = tf.tidy(() => gradients(graph, x, { outputs: ['r'], wrt: graph.inputName, rule: 'redirected', seed }).gradient.dataSync());
    const expectedDx = new Float32Array(input.length);
    for (let p = 0; p < 48; p++) for (let i = 0; i < 3; i++) for (let o = 0; o < 3; o++) expectedDx[p * 3 + i]! += expected[p * 3 + o]! * REDIRECT_WEIGHTS[i]![o]!;
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(unfused[i]! - expected[i]!) < 1e-6, `max ${max} unfused [${i}]`);
    for (let i = 0; i < expectedDx.length; i++) assert.ok(Math.abs(fused[i]! - expectedDx[i]!) < 1e-5, `max ${max} fused [${i}]`);
    // element 1 (all dead) gets gradient only through the redirect; the standard rule gives none there
    const standard = tf.tidy(() => gradients(graph, x, { outputs: ['r'], wrt: 'c', seed }).gradient.dataSync());
    assert.ok(standard.subarray(48, 96).every((v) => v === 0) && unfused.subarray(48, 96).some((v) => v !== 0));
    loaded.dispose();
  }
});

test('the redirected rule leaves leaky ReLUs alone (their gradient never vanishes), fused and unfused', async () => {
  const input = tf.input({ shape: [4, 4, 3], name: 'image' });
  const c = tf.layers.conv2d({ name: 'c', filters: 3, kernelSize: 1, useBias: false }).apply(input) as tf.SymbolicTensor;
  const r = tf.layers.leakyReLU({ name: 'r', alpha: 0.2 }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'logits', units: 2 }).apply(tf.layers.flatten({ name: 'flat' }).apply(r) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights([tf.tensor4d(REDIRECT_WEIGHTS.flat(), [1, 1, 3, 3]), tf.ones([48, 2]), tf.zeros([2])]);
  const loaded = await loadModel(await saveModel(model));
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 48 }, (_, i) => -1 - (i % 7) / 7), [2, 4, 4, 3]);
  const seed = () => tf.ones([2, 4, 4, 3]);
  for (const wrt of ['c', loaded.graph.inputName]) {
    const redirected = tf.tidy(() => gradients(loaded.graph, x, { outputs: ['r'], wrt, rule: 'redirected', seed }).gradient.dataSync());
    const standard = tf.tidy(() => gradients(loaded.graph, x, { outputs: ['r'], wrt, seed }).gradient.dataSync());
    assert.deepEqual(Array.from(redirected), Array.from(standard), `wrt ${wrt}`);
    assert.ok(standard.some((v) => v !== 0));
  }
  loaded.dispose();
});
