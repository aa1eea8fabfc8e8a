import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Engine } from '../src/engine/engine';
import type { RgbaImage } from '../src/engine/types';
import { layersToGraph } from '../scripts/layersToGraph';
import { saveModel, tempDir } from './helpers/models';

/*
 * Guided backprop and deconvnet on a toy x(3) → h1(4, act) → h2(3, act) → out(2), derived by hand:
 * standard: g_z = g_a · slope(z); guided: g_z = g_a · slope(z) · [g_a > 0]; deconvnet: g_z = act(g_a).
 */
const W1 = [[1, -2, 0.5, 3], [2, 1, -1, -0.5], [-1, 0.5, 2, 1]];
const B1 = [0.5, -0.3, 0.2, 4];
const W2 = [[1, -1, 2], [-2, 0.5, 1], [0.7, 1.5, -1], [1, 1, 0.5]];
const B2 = [0.1, -0.2, 1.5];
const W3 = [[1, -2], [-1.5, 1], [2, 0.5]];
const X = [0.8, 0.3, 0.6];

type Act = 'relu' | 'relu6' | 'leakyrelu';
const ALPHA = 0.2;
const f = (a: Act, z: number) => (a === 'relu' ? Math.max(0, z) : a === 'relu6' ? Math.min(6, Math.max(0, z)) : z > 0 ? z : ALPHA * z);
const slope = (a: Act, z: number) => (a === 'leakyrelu' ? (z > 0 ? 1 : ALPHA) : a === 'relu6' ? (z > 0 && z < 6 ? 1 : 0) : z > 0 ? 1 : 0);
const matvec = (W: number[][], v: number[]) => W[0]!.map((_, j) => v.reduce((s, vi, i) => s + vi * W[i]![j]!, 0));
const back = (W: number[][], g: number[]) => W.map((row) => row.reduce((s, w, j) => s + w * g[j]!, 0));

function handGradient(act: Act, rule: 'standard' | 'guided' | 'deconvnet', cls: number): number[] {
  const z1 = matvec(W1, X).map((v, i) => v + B1[i]!);
  const a1 = z1.map((z) => f(act, z));
  const z2 = matvec(W2, a1).map((v, i) => v + B2[i]!);
  const through = (g: number[], z: number[]) => g.map((gi, i) => {
    if (rule === 'deconvnet') return act === 'leakyrelu' ? f(act, gi) : Math.max(0, gi);
    const s = gi * slope(act, z[i]!);
    return rule === 'guided' ? (gi > 0 ? s : 0) : s;
  });
  const gA2 = W3.map((row) => row[cls]!);
  const gZ2 = through(gA2, z2);
  const gZ1 = through(back(W2, gZ2), z1);
  return back(W1, gZ1);
}

async function toyModel(act: Act): Promise<string> {
  const input = tf.input({ shape: [1, 1, 3], name: 'x' });
  const flat = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const layerAct = (name: string, t: tf.SymbolicTensor) => (act === 'leakyrelu'
    ? tf.layers.leakyReLU({ name, alpha: ALPHA }).apply(t)
    : act === 'relu6' ? tf.layers.reLU({ name, maxValue: 6 }).apply(t) : tf.layers.activation({ name, activation: 'relu' }).apply(t)) as tf.SymbolicTensor;
  const h1 = layerAct('a1', tf.layers.dense({ name: 'h1', units: 4 }).apply(flat) as tf.SymbolicTensor);
  const h2 = layerAct('a2', tf.layers.dense({ name: 'h2', units: 3 }).apply(h1) as tf.SymbolicTensor);
  const out = tf.layers.dense({ name: 'out', units: 2, useBias: false }).apply(h2) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights([tf.tensor(W1), tf.tensor(B1), tf.tensor(W2), tf.tensor(B2), tf.tensor(W3)]);
  // range [0, 255] with mean 0 / std 1 makes the model input equal the pixel values.
  return saveModel(model, { input: { range: [0, 255], channels: 'rgb' } });
}

const pixel: RgbaImage = { width: 1, height: 1, data: Float32Array.from([...X, 255]) };

let engine: Engine;
before(async () => { engine = await Engine.create(); });

for (const act of ['relu', 'relu6', 'leakyrelu'] as const) {
  test(`gradient, guided backprop and deconvnet equal hand-derived values (${act}; Layers and Graph)`, async () => {
    const layersPath = await toyModel(act);
    const graphPath = await layersToGraph(layersPath, path.join(tempDir(), 'graph'));
    for (const modelPath of [layersPath, graphPath]) {
      for (const cls of [0, 1]) {
        const result = await engine.explain(modelPath, pixel, { methods: ['gradient', 'guided-backprop', 'deconvnet'], classIndex: cls });
        const byMethod = Object.fromEntries(result.maps.map((m) => [m.summary.method, Array.from(m.data)]));
        for (const [method, rule] of [['gradient', 'standard'], ['guided-backprop', 'guided'], ['deconvnet', 'deconvnet']] as const) {
          const expected = handGradient(act, rule, cls);
          byMethod[method]!.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4,
            `${path.basename(path.dirname(modelPath))} ${act} ${method} class ${cls}: got ${byMethod[method]} expected ${expected}`));
        }
      }
      // The three rules must actually differ on this toy, or the test proves nothing.
      const differs = (rule: 'guided' | 'deconvnet') => [0, 1].some((c) =>
        JSON.stringify(handGradient(act, 'standard', c)) !== JSON.stringify(handGradient(act, rule, c)));
      assert.ok(differs('guided') && differs('deconvnet'), 'the toy does not separate the rules');
    }
  });
}
