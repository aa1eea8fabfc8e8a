// Hostile or broken ONNX files: each refused with a LoupeError naming the file (and the node or tensor),
// before anything large is allocated. The files are made here by editing a real export's protobuf.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { Engine } from '../src/engine/engine';
import { LoupeError } from '../src/protocol/errors';

const FIXTURES = path.join(__dirname, 'fixtures', 'onnx');
let engine: Engine;
let dir: string;

before(async () => {
  engine = await Engine.create({ backend: 'wasm', lanes: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-onnx-bad-'));
});

function original(name = 'resnet_mini'): onnx.ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(path.join(FIXTURES, name, 'model.onnx')));
}

function write(name: string, model: onnx.ModelProto | Uint8Array, folder = dir): string {
  const file = path.join(folder, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, model instanceof Uint8Array ? model : onnx.ModelProto.encode(model).finish());
  return file;
}

async function refused(file: string, code: string, message: RegExp): Promise<void> {
  engine.forget(file);
  await assert.rejects(engine.describe(file), (e: unknown) => {
    assert.ok(e instanceof LoupeError, `not a LoupeError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(e.message.includes(file) || (e.file !== undefined && e.file.startsWith(path.dirname(file))), `the message names the file: ${e.message}`);
    return true;
  });
}

test('a truncated protobuf names the file and says to export again', async () => {
  const bytes = fs.readFileSync(path.join(FIXTURES, 'resnet_mini', 'model.onnx'));
  await refused(write('truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 2))), 'MODEL_INVALID', /not a valid ONNX protobuf|damaged|holds/);
});

test('an unsupported op is refused by name, with the node and the list of supported ops', async () => {
  const m = original();
  const relu = m.graph!.node!.find((n) => n.opType === 'Relu')!;
  relu.opType = 'Gelu';
  await refused(write('gelu.onnx', m), 'UNSUPPORTED_MODEL', new RegExp(`node '${relu.name}' uses op 'Gelu'.*supported ONNX ops: Conv`));
});

test('an opset above 18 is refused with the opset to export at', async () => {
  const m = original();
  m.opsetImport[0]!.version = 19;
  await refused(write('opset19.onnx', m), 'UNSUPPORTED_MODEL', /opset 19; Loupe reads opsets 9–18.*opset_version=18/);
});

test('an initializer whose bytes do not match its dims names the tensor', async () => {
  const m = original();
  const t = m.graph!.initializer!.find((i) => i.rawData && i.rawData.length > 64)!;
  t.rawData = t.rawData!.subarray(0, t.rawData!.length - 4);
  await refused(write('short-tensor.onnx', m), 'WEIGHTS_INVALID', new RegExp(`tensor '${t.name!.replace(/[.:]/g, '.')}' holds \\d+ bytes but its dimensions`));
});

test('a tensor declaring 10¹² elements is refused before anything is allocated', async () => {
  const m = original();
  m.graph!.initializer![0]!.dims = [1_000_000, 1_000_000];
  const before = process.memoryUsage().rss;
  await refused(write('huge.onnx', m), 'MODEL_INVALID', /declare more than 5e\+8 values/);
  assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024, 'no large allocation');
});

test('external data outside the model folder, through a symlink, or shorter than declared is refused', async () => {
  const src = path.join(FIXTURES, 'external_data');
  const m = onnx.ModelProto.decode(fs.readFileSync(path.join(src, 'model.onnx')));
  const data = fs.readFileSync(path.join(src, 'model.onnx.data'));
  // 1. location leaving the folder
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(outside, 'model'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.data'), data);
  const escaping = onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
  for (const t of escaping.graph!.initializer!) for (const e of t.externalData ?? []) if (e.key === 'location') e.value = '../secret.data';
  await refused(write('model/escape.onnx', escaping, outside), 'WEIGHTS_INVALID', /external tensor data '\.\.\/secret\.data' lies outside the folder/);
  // 2. a symlink inside the folder pointing out of it
  fs.symlinkSync(path.join(outside, 'secret.data'), path.join(outside, 'model', 'model.onnx.data'));
  await refused(write('model/link.onnx', m, outside), 'WEIGHTS_INVALID', /is a link to .*outside the folder/);
  // 3. shorter than declared
  const short = path.join(dir, 'short');
  fs.mkdirSync(short);
  fs.writeFileSync(path.join(short, 'model.onnx.data'), data.subarray(0, data.length - 100));
  await refused(write('model.onnx', m, short), 'WEIGHTS_INVALID', /reads bytes \d+–\d+ of model\.onnx\.data, which holds \d+/);
});

test('a symbolic input size without "input.size" in loupe.json says what to write', async () => {
  await refused(path.join(FIXTURES, 'dynamic_hw_nosize', 'model.onnx'), 'UNSUPPORTED_MODEL',
    /symbolic size \[batch, 3, height, width\].*loupe\.json: \{"input": \{"size": \[224, 224\]\}\}/);
  const d = await engine.describe(path.join(FIXTURES, 'dynamic_hw', 'model.onnx'));
  assert.deepEqual(d.inputShape, [40, 40, 3], 'with "size": [40, 40] the model loads at that size');
});

test('a graph that reads a value before producing it (a cycle or a dangling name) is refused, naming the node', async () => {
  const m = original();
  const node = m.graph!.node![3]!;
  node.input![0] = 'nowhere';
  await refused(write('dangling.onnx', m), 'MODEL_INVALID', new RegExp(`node '${node.name}' \\(${node.opType}\\) reads 'nowhere'`));
  const cyc = original();
  const [a, b] = [cyc.graph!.node![1]!, cyc.graph!.node![2]!];
  a.input![0] = b.output![0]!;
  await refused(write('cycle.onnx', cyc), 'MODEL_INVALID', /which no earlier node produces/);
});

test('a file that is a folder or a FIFO is refused without hanging', async () => {
  const folder = path.join(dir, 'folder.onnx');
  fs.mkdirSync(folder);
  await refused(folder, 'MODEL_INVALID', /not a regular file \(a folder\)/);
  const fifo = path.join(dir, 'pipe.onnx');
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [fifo]);
  await refused(fifo, 'MODEL_INVALID', /not a regular file \(a pipe\)/);
});

test('a non-finite weight is refused, naming the tensor', async () => {
  const m = original();
  const t = m.graph!.initializer!.find((i) => i.rawData && i.rawData.length >= 16)!;
  const copy = new Uint8Array(t.rawData!);
  new DataView(copy.buffer).setFloat32(8, NaN, true);
  t.rawData = copy;
  await refused(write('nan.onnx', m), 'WEIGHTS_INVALID', /holds a non-finite value \(NaN\)/);
});
