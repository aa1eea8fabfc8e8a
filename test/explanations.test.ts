import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { generateShapes } from '../demo/shapes/dataset';
import { Engine } from '../src/engine/engine';
import type { RgbaImage } from '../src/engine/types';
import type { MethodId } from '../src/protocol/types';
import { layersToGraph } from '../scripts/layersToGraph';
import { relativeError } from './helpers/context';
import { tempDir } from './helpers/models';

const SHAPES = path.resolve('demo/shapes/model/model.json');
const DIGITS = path.resolve('demo/digits/model/model.json');
const ALL: MethodId[] = ['gradient', 'gradxinput', 'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'guided-backprop',
  'deconvnet', 'cam', 'gradcam', 'guided-gradcam', 'occlusion'];

function toImage(rgba: Uint8Array, size: number): RgbaImage {
  return { width: size, height: size, data: Float32Array.from(rgba) };
}

/** Held-out scenes (seed 3: training used 1, validation 2) with their object masks. */
const heldOut = generateShapes({ count: 200, seed: 3 });
const SIZE = Math.round(Math.sqrt(heldOut.masks[0]!.length));

let engine: Engine;
before(async () => { engine = await Engine.create(); });

test('ground truth on 200 held-out shapes: Grad-CAM pointing game ≥ 90%; SmoothGrad mass concentrates on the object', async (t) => {
  let hits = 0;
  let near = 0;
  let massInside = 0;
  let areaShare = 0;
  for (let i = 0; i < heldOut.images.length; i++) {
    const mask = heldOut.masks[i]!;
    const result = await engine.explain(SHAPES, toImage(heldOut.images[i]!, SIZE), {
      methods: ['gradcam', 'smoothgrad'], classIndex: heldOut.labels[i]!, params: { samples: 10 },
    });
    const [gradcam, smooth] = result.maps;
    let best = 0;
    gradcam!.data.forEach((v, p) => { if (v > gradcam!.data[best]!) best = p; });
    if (mask[best]) hits++;
    // Zhang et al.'s pointing game counts a hit within 15 px of the object at 224 px: 4 px at 64 px.
    const by = Math.floor(best / SIZE);
    const bx = best % SIZE;
    if (mask.some((m, p) => m === 1 && Math.hypot(Math.floor(p / SIZE) - by, (p % SIZE) - bx) <= 4)) near++;
    let inside = 0;
    let total = 0;
    smooth!.display.forEach((v, p) => { total += v; if (mask[p]) inside += v; });
    massInside += inside / total;
    areaShare += mask.reduce((s: number, m) => s + (m ? 1 : 0), 0) / mask.length;
  }
  const n = heldOut.images.length;
  t.diagnostic(`Grad-CAM (default layer) maximum inside the mask: ${hits}/${n} = ${(100 * hits / n).toFixed(1)}%`);
  t.diagnostic(`pointing game with the standard tolerance (15 px at 224 px → 4 px): ${near}/${n} = ${(100 * near / n).toFixed(1)}%`);
  t.diagnostic(`SmoothGrad (n=10, σ=0.15) mass inside the mask: ${(100 * massInside / n).toFixed(1)}% vs mask area ${(100 * areaShare / n).toFixed(1)}%`);
  // Issue 2's acceptance: the strict pointing game (maximum inside the mask) on ≥ 90 % of scenes.
  assert.ok(hits / n >= 0.9, `strict maximum inside the mask ${hits}/${n}`);
  assert.ok(massInside > 2 * areaShare, 'SmoothGrad mass is at least twice as concentrated on the object as its area');
});

test('sanity check (Adebayo 2018): cascading randomisation of the top layers decorrelates gradient and Grad-CAM maps', async (t) => {
  const count = 8;
  const byDepth: Record<number, Record<string, number>> = {};
  for (const depth of [2, 4]) {
    const rhos: Record<string, number[]> = {};
    for (let i = 0; i < count; i++) {
      const result = await engine.explain(SHAPES, toImage(heldOut.images[i]!, SIZE), {
        // A different randomisation per image (seed i): one draw alone can land near or far by chance.
        methods: ALL.filter((m) => m !== 'occlusion'), sanity: true, sanityLayers: depth, params: { samples: 8, steps: 16, seed: i },
      });
      for (const m of result.maps) {
        const rho = m.summary.figures.sanitySpearman;
        // No ρ only where the randomised model's map went flat (a Grad-CAM whose ReLU kills it): the map changed.
        if (rho === undefined) assert.match(m.summary.notes.join('\n'), /the randomised model's map is constant/, `${m.summary.method}: ${m.summary.notes}`);
        else (rhos[m.summary.method] ??= []).push(rho);
      }
    }
    const sums = Object.fromEntries(Object.entries(rhos).map(([method, v]) => [method, v.reduce((a, b) => a + b, 0) / v.length]));
    byDepth[depth] = sums;
    for (const [method, rho] of Object.entries(sums)) {
      t.diagnostic(`top ${depth} layers re-initialised — ${method}: mean Spearman ρ = ${rho.toFixed(3)} over ${rhos[method]!.length} of ${count} images (the others: the randomised map is flat)`);
    }
  }
  // With the top 4 weighted layers (logits, conv6, dw6, conv5) re-initialised the gradient no longer follows the trained map.
  assert.ok(byDepth[4]!.gradient! < 0.5, `gradient ρ = ${byDepth[4]!.gradient}`);
  assert.ok(byDepth[4]!.gradcam! < 0.5, `Grad-CAM ρ = ${byDepth[4]!.gradcam}`);
  assert.ok(byDepth[2]!.gradcam! < 0.5, `Grad-CAM ρ (top 2) = ${byDepth[2]!.gradcam}`);
});

test('Integrated Gradients is complete within 1% at 64 steps on both demo models', async (t) => {
  const digitImage = toImage(heldOut.images[0]!, SIZE); // any image; the engine resizes it to 28×28 gray
  for (const [model, image] of [[SHAPES, toImage(heldOut.images[7]!, SIZE)], [DIGITS, digitImage]] as const) {
    for (const baseline of ['black', 'blurred', 'uniform'] as const) {
      const result = await engine.explain(model, image, { methods: ['ig'], params: { steps: 64, baseline } });
      const e = result.maps[0]!.summary.figures.completenessError!;
      t.diagnostic(`${path.basename(path.dirname(path.dirname(model)))} ${baseline}: completeness error ${(100 * e).toFixed(3)}%`);
      assert.ok(e <= 0.01, `${model} ${baseline}: ${e}`);
    }
  }
});

test('each demo model saved as Layers and as Graph gives the same maps (≤ 1e-5)', async () => {
  for (const model of [SHAPES, DIGITS]) {
    const graph = await layersToGraph(model, path.join(tempDir(), 'graph'));
    const image = toImage(heldOut.images[11]!, SIZE);
    const options = { methods: ALL, params: { samples: 4, steps: 8, window: 8, stride: 4 } };
    const a = await engine.explain(model, image, options);
    const b = await engine.explain(graph, image, options);
    assert.deepEqual(b.summary.predictions.map((p) => p.index), a.summary.predictions.map((p) => p.index));
    assert.deepEqual(b.maps.map((m) => m.summary.method), a.maps.map((m) => m.summary.method));
    for (let i = 0; i < a.maps.length; i++) {
      const err = relativeError(b.maps[i]!.data, a.maps[i]!.data);
      assert.ok(err <= 1e-5, `${path.basename(path.dirname(path.dirname(model)))} ${a.maps[i]!.summary.method}: ${err}`);
    }
  }
});
