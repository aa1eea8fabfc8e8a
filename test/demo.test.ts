import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadDigits, TRAIN_COUNT } from '../demo/digits/data';
import { CLASSES, generateShapes, toModelInput } from '../demo/shapes/dataset';

const DEMO = path.join(__dirname, '..', 'demo');

/** Reads model.json + its weight shards from disk (no tfjs-node file:// handler here). */
function fileHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(modelJsonPath), p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

describe('shapes generator', () => {
  it('is deterministic: same seed gives identical bytes, another seed differs', () => {
    const a = generateShapes({ count: 5, seed: 11 });
    const b = generateShapes({ count: 5, seed: 11 });
    const c = generateShapes({ count: 5, seed: 12 });
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(a.images[i], b.images[i]);
      assert.deepEqual(a.masks[i], b.masks[i]);
    }
    assert.deepEqual(a.labels, b.labels);
    assert.ok(a.images.some((img, i) => Buffer.compare(Buffer.from(img), Buffer.from(c.images[i]!)) !== 0));
  });

  it('has opaque RGBA images, one mask per image, all classes', () => {
    const d = generateShapes({ count: 120, seed: 5, size: 48 });
    assert.equal(d.classes.length, CLASSES.length);
    assert.ok(d.classes.length >= 4);
    assert.equal(new Set(d.labels).size, d.classes.length);
    for (let i = 0; i < d.images.length; i++) {
      assert.equal(d.images[i]!.length, 48 * 48 * 4);
      assert.equal(d.masks[i]!.length, 48 * 48);
      for (let p = 3; p < d.images[i]!.length; p += 4) assert.equal(d.images[i]![p], 255);
    }
  });

  it('masks are non-empty, painted in the object colour, with the area and centre the geometry predicts', () => {
    const size = 64;
    const d = generateShapes({ count: 300, seed: 6, size });
    for (let n = 0; n < d.images.length; n++) {
      const { label, cx, cy, radius, color } = d.scenes[n]!;
      const mask = d.masks[n]!;
      const img = d.images[n]!;
      let area = 0;
      let sx = 0;
      let sy = 0;
      for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) continue;
        area++;
        sx += (i % size) + 0.5;
        sy += Math.floor(i / size) + 0.5;
        assert.deepEqual([img[i * 4], img[i * 4 + 1], img[i * 4 + 2]], color, `image ${n} pixel ${i}`);
      }
      assert.ok(area > 0, `image ${n}: empty mask`);
      // Side fraction 28-56 % means the object's extent (2 * radius) is in that range.
      assert.ok(radius * 2 >= 0.28 && radius * 2 <= 0.56);
      const r = radius * size;
      const name = CLASSES[label];
      // Exact areas of the drawn outlines (see insideShape), allowing one pixel along the perimeter.
      const expected: Record<string, [number, number] | undefined> = {
        circle: [Math.PI * (0.85 * r) ** 2, 2 * Math.PI * 0.85 * r],
        square: [(1.36 * r) ** 2, 4 * 1.36 * r],
        cross: [2 * (1.8 * r * 0.6 * r) - (0.6 * r) ** 2, 4 * 1.8 * r + 4 * 0.6 * r],
        triangle: [((3 * Math.sqrt(3)) / 4) * r * r, 3 * Math.sqrt(3) * r],
      };
      const exp = expected[name!];
      if (exp) assert.ok(Math.abs(area - exp[0]) <= exp[1] * 0.6 + 2, `${name} ${n}: area ${area} vs ${exp[0].toFixed(1)}`);
      // Circle, square, cross, star and triangle have their centroid at the centre.
      if (name !== 'heart') {
        assert.ok(Math.hypot(sx / area - cx * size, sy / area - cy * size) < 1.2, `${name} ${n}: centroid off`);
      }
    }
  });
});

describe('demo models', () => {
  before(async () => {
    // The cpu backend needs ~0.5 s per 64x64 image here; inference is fully supported on wasm.
    assert.ok(await tf.setBackend('wasm'));
  });

  it('shapes: >= 90 % accuracy on 200 fresh scenes (seed 3); labels and sidecar as trained', async () => {
    const model = await tf.loadLayersModel(fileHandler(path.join(DEMO, 'shapes', 'model', 'model.json')));
    const names = model.layers.map((l) => l.name);
    for (const n of ['conv1', 'pool1', 'conv2', 'pool2', 'relu3', 'dw4', 'conv4', 'dw5', 'conv5', 'dw6', 'conv6', 'relu6', 'gap', 'logits']) {
      assert.ok(names.includes(n), n);
    }
    // Two poolings: the last feature map (Grad-CAM's default layer) is 16×16 on the 64×64 input.
    assert.deepEqual(model.getLayer('relu6').outputShape, [null, 16, 16, 64]);
    const labels = fs.readFileSync(path.join(DEMO, 'shapes', 'model', 'labels.txt'), 'utf8').trim().split('\n');
    assert.deepEqual(labels, [...CLASSES]);
    const sidecar = JSON.parse(fs.readFileSync(path.join(DEMO, 'shapes', 'model', 'loupe.json'), 'utf8'));
    assert.deepEqual(sidecar.input.range, [-1, 1]);

    const data = generateShapes({ count: 200, seed: 3 });
    const xs = tf.tensor4d(toModelInput(data.images, 64), [200, 64, 64, 3]);
    const probs = model.predict(xs) as tf.Tensor2D;
    const predicted = Array.from(probs.argMax(-1).dataSync());
    const accuracy = predicted.filter((p, i) => p === data.labels[i]).length / 200;
    assert.ok(accuracy >= 0.9, `accuracy ${accuracy}`);
    // Where Grad-CAM points is checked through the engine in test/explanations.test.ts.
  });

  it('digits: >= 95 % accuracy on the last 500 MNIST digits (held out from training)', async () => {
    const model = await tf.loadLayersModel(fileHandler(path.join(DEMO, 'digits', 'model', 'model.json')));
    const names = model.layers.map((l) => l.name);
    for (const n of ['conv1', 'pool1', 'conv2', 'bn2', 'relu2', 'dw3', 'gap', 'dropout', 'logits', 'probs']) {
      assert.ok(names.includes(n), n);
    }
    const digits = loadDigits();
    assert.equal(digits.images.length, 10000);
    const start = digits.images.length - 500;
    assert.ok(start >= TRAIN_COUNT);
    const flat = new Float32Array(500 * 784);
    for (let i = 0; i < 500; i++) flat.set(digits.images[start + i]!, i * 784);
    const probs = model.predict(tf.tensor4d(flat, [500, 28, 28, 1])) as tf.Tensor2D;
    const predicted = probs.argMax(-1).dataSync();
    let correct = 0;
    for (let i = 0; i < 500; i++) if (predicted[i] === digits.labels[start + i]) correct++;
    assert.ok(correct / 500 >= 0.95, `accuracy ${correct / 500}`);
  });
});
