// Feature visualisation on ONNX Runtime against the wasm engine, whose feature-visualisation gradients
// featureVis.test.ts checks against Lucid's redirected-ReLU formula and planted units: the same objective
// gradients to 1e-4 (fixed seeds and the diversity penalty's activation-dependent seed, standard and
// redirected rules), and ONNX Runtime's redirected rule against the formula itself.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { saveMobileNetV2 } from '../bench/mobilenetv2';
import { Engine } from '../src/engine/engine';
import { compileObjective } from '../src/engine/featureVis/objectives';
import { ModelPasses } from '../src/engine/featureVis/passes';
import type { ReluRule } from '../src/engine/model/ir';
import type { FeatureVisTerm } from '../src/protocol/featureVis';
import { relativeError } from './helpers/context';
import { buildRedirectModel, lucidRedirected, redirectInputs, REDIRECT_WEIGHTS, saveColourModel } from './helpers/featureVisModels';
import { buildFusableModel, rng, saveModel, tempDir } from './helpers/models';

let ortEngine: Engine;
let wasmEngine: Engine;
let cacheDir: string;

before(async () => {
  cacheDir = tempDir('loupe-fv-ort-');
  ortEngine = await Engine.create({ backend: 'onnxruntime', cacheDir });
  wasmEngine = await Engine.create({ backend: 'wasm', lanes: 1, cacheDir });
});
after(() => {
  ortEngine.lanes.stop();
  wasmEngine.lanes.stop();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

test('ONNX Runtime\'s redirected ReLU rule equals Lucid\'s formula per batch element, ReLU and ReLU6', async () => {
  const r = rng(78);
  for (const max of [Infinity, 6]) {
    const file = await saveModel(buildRedirectModel(Number.isFinite(max) ? max : undefined));
    const model = await ortEngine.model(file);
    assert.equal(model.passes.backend, 'onnxruntime', model.passes.note);
    const n = 4 * 4 * 3;
    const input = redirectInputs(r);
    const dy = Float32Array.from({ length: 3 * n }, () => r() * 2 - 1);
    const pre = new Float32Array(3 * n);
    for (let p = 0; p < 48; p++) for (let o = 0; o < 3; o++) for (let i = 0; i < 3; i++) pre[p * 3 + o]! += input[p * 3 + i]! * REDIRECT_WEIGHTS[i]![o]!;
    const expected = lucidRedirected(pre, dy, 3, max);
    const expectedDx = new Float32Array(input.length);
    for (let p = 0; p < 48; p++) for (let i = 0; i < 3; i++) for (let o = 0; o < 3; o++) expectedDx[p * 3 + i]! += expected[p * 3 + o]! * REDIRECT_WEIGHTS[i]![o]!;
    const passes = new ModelPasses(model);
    const got = await passes.inputGradient('r', input, 3, dy, 'redirected');
    for (let i = 0; i < expectedDx.length; i++) assert.ok(Math.abs(got.gradient[i]! - expectedDx[i]!) < 1e-5, `max ${max} [${i}]: ${got.gradient[i]} vs ${expectedDx[i]}`);
    // the dead element gets gradient only through the redirect
    const standard = await passes.inputGradient('r', input, 3, dy, 'standard');
    assert.ok(standard.gradient.subarray(n, 2 * n).every((v) => v === 0) && got.gradient.subarray(n, 2 * n).some((v) => v !== 0));
  }
});

/** Inputs whose second image is dark enough that whole ReLU layers die in it (so the redirect changes the gradient). */
function inputs(h: number, w: number, batch: number, seed: number): Float32Array {
  const r = rng(seed);
  const per = h * w * 3;
  return Float32Array.from({ length: batch * per }, (_, i) => (i >= per && i < 2 * per ? -3 - r() : r() * 2 - 1));
}

async function compareGradients(file: string, layer: string, label: string): Promise<void> {
  const ort = await ortEngine.model(file);
  const wasm = await wasmEngine.model(file);
  assert.equal(ort.passes.backend, 'onnxruntime', ort.passes.note);
  assert.equal(wasm.passes.backend, 'wasm');
  const [h, w] = ort.graph.inputShape;
  const shape = ort.description.layers.find((l) => l.name === layer)!.outputShape as [number, number, number];
  const batch = 3;
  const x = inputs(h, w, batch, 5);
  const objectives: FeatureVisTerm[][] = [
    [{ kind: 'channel', layer, unit: 1 }],
    [{ kind: 'neuron', layer, unit: 0 }, { kind: 'channel', layer, unit: 2, weight: -0.5 }],
    [{ kind: 'channel', layer, unit: 0 }, { kind: 'diversity', layer, weight: -10 }],
  ];
  let redirectMatters = false;
  for (const terms of objectives) {
    const [objective] = compileObjective(terms, batch, () => shape);
    const linear = objective!.fixedSeed !== undefined;
    assert.equal(linear, !terms.some((t) => t.kind === 'diversity'));
    const results: Record<string, Float32Array> = {};
    for (const rule of ['standard', 'redirected'] as ReluRule[]) {
      const run = async (passes: ModelPasses) => {
        let value = 0;
        const r = await passes.inputGradient(layer, x, batch, objective!.fixedSeed ?? ((a) => {
          const s = objective!.seed(a);
          value = s.value;
          return s.seed;
        }), rule);
        return { ...r, value: linear ? objective!.evaluate(r.activations).value : value };
      };
      const [a, b] = [await run(new ModelPasses(ort)), await run(new ModelPasses(wasm))];
      const what = `${label}, ${terms.map((t) => t.kind).join('+')}, ${rule}`;
      assert.ok(b.gradient.some((v) => v !== 0), `${what}: the gradient is not all zeros`);
      const err = relativeError(a.gradient, b.gradient);
      assert.ok(err <= 1e-4, `${what}: ONNX Runtime differs from wasm by ${err}`);
      assert.ok(relativeError(a.activations, b.activations) <= 1e-5, `${what}: activations`);
      assert.ok(Math.abs(a.value - b.value) <= 1e-4 * Math.max(1, Math.abs(b.value)), `${what}: value ${a.value} vs ${b.value}`);
      if (linear) {
        // ⟨seed, acts⟩ is the objective's value (what the render adds up for a fixed seed)
        const dot = objective!.fixedSeed!.reduce((s, v, i) => s + v * a.activations[i]!, 0);
        assert.ok(Math.abs(dot - a.value) <= 1e-4 * Math.max(1, Math.abs(a.value)), `${what}: ⟨seed, acts⟩ ${dot} vs ${a.value}`);
      }
      results[rule] = a.gradient;
    }
    redirectMatters ||= relativeError(results.redirected!, results.standard!) > 1e-3;
  }
  assert.ok(redirectMatters, `${label}: the redirected rule changed no gradient (the test inputs do not reach it)`);
}

test('fused units (conv → BN → ReLU6, depthwise → LeakyReLU, residual, 1×1 conv ReLU): objective gradients equal wasm\'s', async () => {
  await compareGradients(await saveModel(buildFusableModel()), 'c3', 'fusable');
});

test('MobileNetV2 (64 px): objective gradients at block_7_expand_relu equal wasm\'s', async () => {
  const dir = tempDir('loupe-fv-ort-mnv2-');
  try {
    await compareGradients(await saveMobileNetV2(dir, { inputSize: 64, classes: 10, seed: 2 }), 'block_7_expand_relu', 'MobileNetV2');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a diversity render on ONNX Runtime follows the wasm render step by step, and its summary names the backend', async () => {
  const model = await saveColourModel();
  const s = await ortEngine.visualize(model, {
    objective: [{ kind: 'channel', layer: 'colour', unit: 0 }, { kind: 'diversity', layer: 'colour', weight: -100 }],
    params: { steps: 64, batch: 2 },
  });
  assert.equal(s.backend, 'onnxruntime');
  assert.ok(s.values.at(-1)! > s.values[0]!, `objective ${s.values[0]} → ${s.values.at(-1)}`);
  const reference = await wasmEngine.visualize(model, {
    objective: [{ kind: 'channel', layer: 'colour', unit: 0 }, { kind: 'diversity', layer: 'colour', weight: -100 }],
    params: { steps: 64, batch: 2 }, refresh: true,
  });
  assert.equal(reference.backend, 'wasm');
  // Same seed, same recipe: the runs agree step by step up to float rounding over 64 Adam steps.
  const drift = Math.max(...s.values.map((v, i) => Math.abs(v - reference.values[i]!) / Math.max(1e-3, Math.abs(reference.values[i]!))));
  assert.ok(drift < 1e-2, `objective values differ from wasm's by up to ${drift}`);
});
