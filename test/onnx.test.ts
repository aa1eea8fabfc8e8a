// Loupe's ONNX loader and both backends against PyTorch itself: the fixtures (test/fixtures/onnx, made by
// scripts/fixtures/onnx_fixtures.py with torch 1.13) hold PyTorch's logits, autograd input gradients,
// guided-backprop/deconvnet gradients from autograd.Function ReLUs, and forward-hook Grad-CAM layers.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { METHODS } from '../src/engine/attribution/registry';
import { Engine } from '../src/engine/engine';
import { decodeNpy } from '../src/engine/output/npy';
import type { BackendPreference, MethodId } from '../src/protocol/types';
import { contextFor, relativeError } from './helpers/context';

const ROOT = path.join(__dirname, 'fixtures', 'onnx');
const FIXTURES = ['resnet_mini', 'mobilenet_mini', 'bn_kept', 'opset11_view', 'grouped_dilated', 'external_data', 'opset18_reducemean', 'dynamic_hw'];

interface Meta {
  target: number;
  gradcam: { k: number; module: string; call: number; onnx_node: string }[];
  modules: { name: string; class: string }[];
  relu_calls: { module: string; call: number }[];
}

const meta = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, name, 'meta.json'), 'utf8')) as Meta;
const npy = (name: string, file: string) => decodeNpy(fs.readFileSync(path.join(ROOT, name, file)));

/** NCHW PyTorch arrays ↔ the NHWC tensors Loupe computes with. */
function toNhwc(a: { data: Float32Array; shape: number[] }): tf.Tensor4D {
  return tf.tidy(() => tf.tensor4d(a.data, a.shape as [number, number, number, number]).transpose([0, 2, 3, 1]));
}
function toNchw(t: tf.Tensor): Float32Array {
  return tf.tidy(() => (t.rank === 4 ? t.transpose([0, 3, 1, 2]) : t).dataSync() as Float32Array);
}

/** Loupe's name for a module call (the first call is the module path; the k-th, path#k). */
const loupeName = (module: string, call: number) => (call === 0 ? module : `${module}#${call + 1}`);

for (const backend of ['onnxruntime', 'wasm'] as BackendPreference[]) {
  describe(`ONNX fixtures on ${backend}`, () => {
    let engine: Engine;
    before(async () => {
      engine = await Engine.create({ backend, lanes: 1 });
    });

    for (const name of FIXTURES) {
      test(`${name}: logits ≤ 1e-5, input gradient, guided backprop, deconvnet and Grad-CAM layers ≤ 1e-4 against PyTorch`, async () => {
        const model = await engine.model(path.join(ROOT, name, 'model.onnx'));
        assert.equal(model.passes.backend, backend, `${name} ran on ${model.passes.backend}: ${model.passes.note ?? ''}`);
        const m = meta(name);
        const x = toNhwc(npy(name, 'input.npy'));
        const target = { classIndex: m.target, kind: 'logit' as const };
        const [logits] = await model.passes.forward(x, [model.graph.logitsName]);
        assert.ok(relativeError(logits!.dataSync(), npy(name, 'logits.npy').data) <= 1e-5, `logits ${relativeError(logits!.dataSync(), npy(name, 'logits.npy').data)}`);
        for (const [rule, file] of [['standard', 'grad_input.npy'], ['guided', 'guided.npy'], ['deconvnet', 'deconvnet.npy']] as const) {
          const g = await model.passes.inputGradient(x, target, rule);
          const err = relativeError(toNchw(g), npy(name, file).data);
          assert.ok(err <= 1e-4, `${rule}: relative L2 error ${err}`);
          g.dispose();
        }
        for (const cam of m.gradcam) {
          // A container module (mobilenet's features.4) names the layer that computes its output.
          const named = loupeName(cam.module, cam.call);
          const layer = model.description.moduleOutputs?.[named] ?? named;
          assert.ok(model.graph.nodes.some((n) => n.name === layer), `no layer '${layer}' for ${cam.onnx_node}`);
          const { activation, gradient } = await model.passes.layerGradient(x, layer, target);
          assert.ok(relativeError(toNchw(activation), npy(name, `act_${cam.k}.npy`).data) <= 1e-5, `${layer} activation`);
          assert.ok(relativeError(toNchw(gradient), npy(name, `grad_${cam.k}.npy`).data) <= 1e-4, `${layer} gradient`);
          const ctx = { ...contextFor(model, x, target), layer };
          const out = await METHODS.get('gradcam')!.run(ctx);
          const err = relativeError(out.lowres!.data, npy(name, `gradcam_${cam.k}.npy`).data);
          assert.ok(err <= 1e-4, `Grad-CAM at ${layer}: ${err}`);
        }
        tf.dispose([x, logits!]);
      });
    }

    test('a batch of three images gives PyTorch\'s batch logits (dynamic batch axis)', async () => {
      for (const name of ['opset11_view', 'resnet_mini', 'mobilenet_mini']) {
        const model = await engine.model(path.join(ROOT, name, 'model.onnx'));
        const x = toNhwc(npy(name, 'batch_input.npy'));
        const [logits] = await model.passes.forward(x, [model.graph.logitsName]);
        assert.ok(relativeError(logits!.dataSync(), npy(name, 'batch_logits.npy').data) <= 1e-5, name);
      }
    });

    test('every method and the sanity check run on every fixture; IG completeness ≤ 1%', async () => {
      for (const name of FIXTURES) {
        const model = await engine.model(path.join(ROOT, name, 'model.onnx'));
        const x = toNhwc(npy(name, 'input.npy'));
        const methods = [...METHODS.keys()].filter((id) => id !== 'cam' || model.description.cam.available) as MethodId[];
        // Random-weight ReLU nets bend sharply along the path: Gauss–Legendre with 64 nodes is off by 1.7% on
        // external_data, 256 by 1.2%, 1024 by 0.05% (it converges: the gradients integrate to f(x) − f(x′)).
        const ctx = contextFor(model, x, { classIndex: meta(name).target }, { samples: 4, steps: 1024 });
        for (const id of methods) {
          const out = await METHODS.get(id)!.run(ctx);
          assert.ok(out.data.every(Number.isFinite) && out.data.some((v) => v !== 0), `${name}: ${id} gives a finite, non-zero map`);
          if (id === 'ig') assert.ok(out.figures.completenessError! <= 0.01, `${name}: IG completeness ${out.figures.completenessError}`);
        }
      }
    });
  });
}

test('layers are named by PyTorch module path: every named module called once appears, reused modules get #k', async () => {
  const engine = await Engine.create({ lanes: 1 });
  for (const name of ['resnet_mini', 'mobilenet_mini', 'bn_kept']) {
    const model = await engine.model(path.join(ROOT, name, 'model.onnx'));
    const m = meta(name);
    const modules = new Set(m.modules.map((x) => x.name));
    const layers = model.description.layers;
    for (const l of layers) if (l.sourceName !== undefined) assert.ok(modules.has(l.sourceName), `${name}: ${l.sourceName} is not a named module`);
    for (const call of m.relu_calls) {
      const layer = layers.find((l) => l.name === loupeName(call.module, call.call));
      assert.ok(layer, `${name}: no layer for call ${call.call + 1} of ${call.module}`);
      assert.equal(layer.sourceName, call.module);
    }
    assert.equal(model.description.layout, 'NCHW');
  }
});
