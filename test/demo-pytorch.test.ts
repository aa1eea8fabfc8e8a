// The demo's PyTorch model (demo/pytorch, trained by train.py and exported to ONNX): run by ONNX Runtime,
// an independent runtime, on fresh shapes scenes; its node names carry the module paths of train.py.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { CLASSES, generateShapes } from '../demo/shapes/dataset';

const DIR = path.join(__dirname, '..', 'demo', 'pytorch');
const SIZE = 64;

it('demo/pytorch/model.onnx: >= 90 % accuracy on 200 fresh scenes (seed 3) in ONNX Runtime', async () => {
  const count = 200;
  const data = generateShapes({ count, seed: 3, size: SIZE });
  // NCHW in [-1, 1], as train.py feeds it and loupe.json declares.
  const x = new Float32Array(count * 3 * SIZE * SIZE);
  data.images.forEach((rgba, n) => {
    for (let p = 0; p < SIZE * SIZE; p++) {
      for (let c = 0; c < 3; c++) x[(n * 3 + c) * SIZE * SIZE + p] = rgba[p * 4 + c]! / 127.5 - 1;
    }
  });
  const session = await ort.InferenceSession.create(path.join(DIR, 'model.onnx'));
  let correct = 0;
  try {
    assert.deepEqual(session.inputNames, ['image']);
    assert.deepEqual(session.outputNames, ['logits']);
    const per = 3 * SIZE * SIZE;
    for (let n = 0; n < count; n++) {
      const input = new ort.Tensor('float32', x.subarray(n * per, (n + 1) * per), [1, 3, SIZE, SIZE]);
      const logits = (await session.run({ image: input })).logits!.data as Float32Array;
      if (logits.indexOf(Math.max(...logits)) === data.labels[n]) correct++;
    }
  } finally {
    await session.release();
  }
  assert.ok(correct / count >= 0.9, `accuracy ${correct / count}`);
});

it('demo/pytorch: labels and loupe.json match the shapes data; node names are train.py module paths', () => {
  assert.deepEqual(fs.readFileSync(path.join(DIR, 'labels.txt'), 'utf8').trim().split('\n'), [...CLASSES]);
  const sidecar = JSON.parse(fs.readFileSync(path.join(DIR, 'loupe.json'), 'utf8')) as { input: { range: number[] }; labels: string };
  assert.deepEqual(sidecar.input.range, [-1, 1]);
  assert.equal(sidecar.labels, 'labels.txt');

  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(DIR, 'model.onnx')));
  assert.equal(Number((model.opsetImport ?? []).find((o) => !o.domain)?.version), 17); // int64: a protobufjs Long
  const names = (model.graph?.node ?? []).map((n) => n.name);
  for (const name of ['/stem/stem.0/Conv', '/layer1/conv1/Conv', '/layer1/relu/Relu', '/layer1/relu_1/Relu',
    '/layer1/downsample/downsample.0/Conv', '/layer3/conv2/Conv', '/head/head.2/Gemm']) {
    assert.ok(names.includes(name), `${name} not in ${names.join(', ')}`);
  }
  // The source lines those names lead to.
  const source = fs.readFileSync(path.join(DIR, 'train.py'), 'utf8');
  for (const line of ['class Block(nn.Module):', 'self.conv1 = nn.Conv2d(', 'self.relu = nn.ReLU(', 'self.downsample = nn.Sequential(',
    'self.stem = nn.Sequential(', 'self.layer1 = Block(', 'self.head = nn.Sequential(', 'torch.onnx.export(model, example, "model.onnx"']) {
    assert.ok(source.includes(line), line);
  }
  assert.ok(fs.statSync(path.join(DIR, 'checkpoint.pt')).size > 0);
});
