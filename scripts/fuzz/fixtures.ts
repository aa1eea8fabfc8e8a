/**
 * The well-formed inputs every fuzz case starts from: a small CNN as a TF.js Layers model and as a
 * converter-style Graph model (scripts/layersToGraph.ts), a sidecar with labels, a PNG and a JPEG.
 * Small on purpose: a case costs milliseconds, so thousands run in minutes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { saveLayersModel } from '../../src/engine/io/saveLayersModel';
import { layersToGraph } from '../layersToGraph';
import { Rand } from './random';

export interface Fixtures {
  root: string;
  /** Folder holding model.json, weights.bin, loupe.json, labels.txt. */
  layersDir: string;
  graphDir: string;
  png: Buffer;
  jpeg: Buffer;
  /** A folder outside every case folder, with files a symlink may point at. */
  outside: string;
  layers: string[];
  /** test/fixtures/onnx: small models written by torch.onnx.export. */
  onnxRoot: string;
}

export const INPUT: [number, number, number] = [12, 10, 3];

export async function makeFixtures(root: string): Promise<Fixtures> {
  const r = new Rand(7);
  const input = tf.input({ shape: INPUT, name: 'image' });
  let x = tf.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'c2', filters: 5, kernelSize: 3, padding: 'valid', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'fuzz' });
  for (const w of model.weights) w.write(tf.tidy(() => tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', 3)));
  const layersDir = path.join(root, 'layers');
  await saveLayersModel(model, layersDir);
  model.dispose();
  fs.writeFileSync(path.join(layersDir, 'labels.txt'), 'cat\ndog\nbird\n');
  fs.writeFileSync(path.join(layersDir, 'loupe.json'), JSON.stringify({ input: { range: [0, 1], mean: [0.5], std: [0.5], channels: 'rgb' }, labels: 'labels.txt' }));
  const graphDir = path.join(root, 'graph');
  await layersToGraph(path.join(layersDir, 'model.json'), graphDir);

  const png = new PNG({ width: 14, height: 12 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : r.int(256);
  const rgba = Buffer.alloc(16 * 16 * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = i % 4 === 3 ? 255 : r.int(256);
  const outside = path.join(root, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'cat\ndog\nbird\n');
  fs.writeFileSync(path.join(outside, 'big.bin'), '');
  fs.truncateSync(path.join(outside, 'big.bin'), 64 * 1024 * 1024);
  return {
    root, layersDir, graphDir, outside,
    png: PNG.sync.write(png),
    jpeg: Buffer.from(jpeg.encode({ width: 16, height: 16, data: rgba }, 80).data),
    layers: ['c1', 'pool', 'c2', 'gap', 'out'],
    onnxRoot: path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'onnx'),
  };
}
