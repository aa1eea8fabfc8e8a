// The ONNX fixtures (test/fixtures/onnx, made by scripts/fixtures/onnx_fixtures.py) checked against an
// independent runtime, ONNX Runtime: each model.onnx reproduces PyTorch's output.npy and batch logits, and
// the ONNX tensor meta.json names for each Grad-CAM layer holds PyTorch's act_<k>.npy. This guards the
// reference data the ONNX loader is tested against (a regenerated fixture that disagrees fails here).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { decodeNpy } from '../src/engine/output/npy';

const ROOT = path.join(__dirname, 'fixtures', 'onnx');
const FIXTURES = fs.readdirSync(ROOT).filter((d) => fs.existsSync(path.join(ROOT, d, 'meta.json'))).sort();
const EXPECTED = ['bn_kept', 'dynamic_hw', 'external_data', 'grouped_dilated', 'mobilenet_mini', 'opset11_view',
  'opset18_reducemean', 'resnet_mini'];

interface Meta {
  opset: number;
  target: number;
  input: { onnx_name: string; onnx_shape: (number | string)[]; shape: number[] };
  output: { onnx_name: string; logits_tensor: string };
  gradcam: { k: number; module: string; onnx_node: string; onnx_op: string; onnx_tensor: string; shape: number[] }[];
  relu_calls: { module: string; call: number; kind: string; onnx_node: string }[];
  modules: { name: string; class: string }[];
  onnx: { nodes: { name: string; op_type: string }[]; opset_imports: Record<string, number> };
}

type Array32 = { data: Float32Array; shape: number[] };

function npy(dir: string, name: string): Array32 {
  return decodeNpy(fs.readFileSync(path.join(dir, name)));
}

function relL2(got: Float32Array, want: Float32Array): number {
  assert.equal(got.length, want.length, 'element counts differ');
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function softmaxRows(x: Float32Array, k: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / k; r++) {
    const row = x.subarray(r * k, (r + 1) * k);
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(row[j]! - max);
    for (let j = 0; j < k; j++) out[r * k + j] = Math.exp(row[j]! - max) / sum;
  }
  return out;
}

/** model.onnx with extra graph outputs, written beside copies of its external-data files. */
function withOutputs(dir: string, names: string[], tmp: string): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx')));
  const graph = model.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  for (const name of names) {
    if (existing.has(name)) continue;
    graph.output!.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  }
  const out = fs.mkdtempSync(path.join(tmp, `${path.basename(dir)}-`));
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.data')) fs.copyFileSync(path.join(dir, f), path.join(out, f));
  fs.writeFileSync(path.join(out, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  return path.join(out, 'model.onnx');
}

async function run(file: string, inputName: string, x: Array32, fetch: string[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  try {
    return await session.run({ [inputName]: new ort.Tensor('float32', x.data, x.shape) }, fetch);
  } finally {
    await session.release();
  }
}

function rows(a: Array32, r: number): Array32 {
  const per = a.data.length / a.shape[0]!;
  return { data: a.data.slice(r * per, (r + 1) * per), shape: [1, ...a.shape.slice(1)] };
}

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-onnx-fixtures-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('every fixture the script makes is committed', () => {
  assert.deepEqual(FIXTURES, EXPECTED);
  assert.ok(fs.existsSync(path.join(ROOT, 'dynamic_hw_nosize', 'model.onnx')));
});

for (const name of FIXTURES) {
  describe(`ONNX fixture ${name}`, () => {
    const dir = path.join(ROOT, name);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;

    it('ONNX Runtime reproduces PyTorch: output, logits tensor, Grad-CAM layers (rel. L2 ≤ 1e-5)', async () => {
      const x = npy(dir, 'input.npy');
      assert.deepEqual(x.shape, meta.input.shape);
      const fetch = [meta.output.onnx_name, meta.output.logits_tensor, ...meta.gradcam.map((g) => g.onnx_tensor)];
      const got = await run(withOutputs(dir, fetch, tmp), meta.input.onnx_name, x, [...new Set(fetch)]);
      const output = npy(dir, 'output.npy');
      const logits = npy(dir, 'logits.npy');
      assert.ok(relL2(got[meta.output.onnx_name]!.data as Float32Array, output.data) <= 1e-5, 'output');
      assert.ok(relL2(got[meta.output.logits_tensor]!.data as Float32Array, logits.data) <= 1e-5, 'logits');
      let argmax = 0;
      for (let i = 1; i < logits.data.length; i++) if (logits.data[i]! > logits.data[argmax]!) argmax = i;
      assert.equal(meta.target, argmax, 'target is the argmax of logits.npy');
      for (const g of meta.gradcam) {
        const act = npy(dir, `act_${g.k}.npy`);
        assert.deepEqual(act.shape, g.shape);
        assert.deepEqual([...got[g.onnx_tensor]!.dims], g.shape, `${g.onnx_tensor} shape`);
        const err = relL2(got[g.onnx_tensor]!.data as Float32Array, act.data);
        assert.ok(err <= 1e-5, `act_${g.k} (${g.module}) vs ${g.onnx_tensor}: rel. L2 ${err}`);
      }
    });

    it('ONNX Runtime reproduces the batch logits (batched when the batch axis is symbolic, else one by one)', async () => {
      const batch = npy(dir, 'batch_input.npy');
      const want = npy(dir, 'batch_logits.npy');
      assert.equal(batch.shape[0], 3);
      const file = withOutputs(dir, [meta.output.logits_tensor], tmp);
      const fetch = [meta.output.logits_tensor];
      let got: Float32Array;
      if (typeof meta.input.onnx_shape[0] === 'string') {
        got = (await run(file, meta.input.onnx_name, batch, fetch))[meta.output.logits_tensor]!.data as Float32Array;
      } else {
        const parts = [];
        for (let r = 0; r < 3; r++) parts.push((await run(file, meta.input.onnx_name, rows(batch, r), fetch))[meta.output.logits_tensor]!.data as Float32Array);
        got = Float32Array.from(parts.flatMap((p) => [...p]));
      }
      assert.ok(relL2(got, want.data) <= 1e-5);
      if (meta.output.logits_tensor !== meta.output.onnx_name) {
        // The file's own output is the softmax of those logits.
        const probs = (await run(file, meta.input.onnx_name, batch, [meta.output.onnx_name]))[meta.output.onnx_name]!.data as Float32Array;
        assert.ok(relL2(probs, softmaxRows(want.data, want.shape[1]!)) <= 1e-5);
      }
    });

    it('meta.json is consistent: shapes, Grad-CAM from act/grad, ReLU calls and layers name real nodes and modules', () => {
      const x = npy(dir, 'input.npy');
      for (const f of ['grad_input.npy', 'guided.npy', 'deconvnet.npy']) assert.deepEqual(npy(dir, f).shape, x.shape, f);
      const nodes = new Map(meta.onnx.nodes.map((n) => [n.name, n.op_type]));
      const modules = new Set(meta.modules.map((m) => m.name));
      for (const g of meta.gradcam) {
        assert.equal(nodes.get(g.onnx_node), g.onnx_op);
        assert.ok(modules.has(g.module), g.module);
        const act = npy(dir, `act_${g.k}.npy`);
        const grad = npy(dir, `grad_${g.k}.npy`);
        const cam = npy(dir, `gradcam_${g.k}.npy`);
        const [, c, h, w] = act.shape as [number, number, number, number];
        assert.deepEqual(cam.shape, [h, w]);
        const mine = new Float32Array(h * w);
        for (let ch = 0; ch < c; ch++) {
          let mean = 0;
          for (let i = 0; i < h * w; i++) mean += grad.data[ch * h * w + i]!;
          mean /= h * w;
          for (let i = 0; i < h * w; i++) mine[i]! += mean * act.data[ch * h * w + i]!;
        }
        for (let i = 0; i < h * w; i++) mine[i] = Math.max(0, mine[i]!);
        assert.ok(relL2(mine, cam.data) <= 1e-5, `gradcam_${g.k}`);
      }
      const op = { relu: 'Relu', relu6: 'Clip', leaky: 'LeakyRelu' } as Record<string, string>;
      for (const c of meta.relu_calls) {
        assert.equal(nodes.get(c.onnx_node), op[c.kind], c.onnx_node);
        assert.ok(modules.has(c.module), c.module);
      }
      const reluNodes = meta.onnx.nodes.filter((n) => ['Relu', 'Clip', 'LeakyRelu'].includes(n.op_type)).length;
      assert.equal(meta.relu_calls.length, reluNodes, 'one ReLU-family call per Relu/Clip/LeakyRelu node');
      assert.equal(meta.onnx.opset_imports['ai.onnx'], meta.opset);
    });
  });
}

it('dynamic_hw: loupe.json gives the size of the reference input; dynamic_hw_nosize holds the same model without it', () => {
  const sidecar = JSON.parse(fs.readFileSync(path.join(ROOT, 'dynamic_hw', 'loupe.json'), 'utf8')) as { input: { size: number[] } };
  assert.deepEqual(sidecar.input.size, npy(path.join(ROOT, 'dynamic_hw'), 'input.npy').shape.slice(2));
  const nosize = path.join(ROOT, 'dynamic_hw_nosize');
  assert.deepEqual(fs.readdirSync(nosize), ['model.onnx']);
  assert.ok(fs.readFileSync(path.join(nosize, 'model.onnx')).equals(fs.readFileSync(path.join(ROOT, 'dynamic_hw', 'model.onnx'))));
});
