/**
 * Files the worker and CLI tests run on: a small CNN saved as a TF.js layers model, a PNG image,
 * and damaged copies of both. Everything lives in a fresh temp folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { saveLayersModel } from '../src/engine/io/saveLayersModel';
import { rng, seedWeights, tempDir } from './helpers/models';

export const REPO = path.resolve(__dirname, '..');
export const WORKER_JS = path.join(REPO, 'dist', 'worker.js');
export const CLI_JS = path.join(REPO, 'dist', 'cli.js');

/** Shapes of the fixture model, stated here so tests check outputs against the definition. */
export const INPUT_SHAPE = [24, 20, 3] as const;
export const CAM_LAYER = 'last_conv';
/** `last_conv` runs after one 2×2 max-pool: half the input's height and width. */
export const CAM_SHAPE = [12, 10] as const;
export const NUM_CLASSES = 3;

export interface Fixtures {
  dir: string;
  model: string;
  image: string;
  /** Layer names in model.json, read from the topology (not from Loupe). */
  layerNames: string[];
}

/** conv → pool → conv → GAP → dense(softmax): CAM and Grad-CAM both apply. */
export async function makeFixtures(): Promise<Fixtures> {
  const dir = tempDir('loupe-worker-test-');
  const input = tf.input({ shape: [...INPUT_SHAPE], name: 'image' });
  let x = tf.layers.conv2d({ name: 'conv1', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: CAM_LAYER, filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'probs', units: NUM_CLASSES, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'worker_fixture' });
  seedWeights(model, 5, 0.4);
  const modelDir = path.join(dir, 'model');
  await saveLayersModel(model, modelDir);
  model.dispose();

  const image = path.join(dir, 'sample.png');
  fs.writeFileSync(image, randomPng(30, 26, 9));
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const layerNames = (json.modelTopology.model_config?.config ?? json.modelTopology.config).layers
    .map((l: { config: { name: string } }) => l.config.name);
  return { dir, model: path.join(modelDir, 'model.json'), image, layerNames };
}

export function randomPng(width: number, height: number, seed: number): Buffer {
  const r = rng(seed);
  const png = new PNG({ width, height });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.floor(r() * 256);
  return PNG.sync.write(png);
}

/** A copy of the model folder to damage. */
export function copyModel(f: Fixtures, name: string): string {
  const dst = path.join(f.dir, name);
  fs.cpSync(path.dirname(f.model), dst, { recursive: true });
  return path.join(dst, 'model.json');
}

export interface BadInput {
  name: string;
  model: string;
  image: string;
  code: string;
  /** The file the error message must name. */
  file: string;
}

export function makeBadInputs(f: Fixtures): BadInput[] {
  const bad: BadInput[] = [];

  // IDAT bytes flipped: the chunk's CRC no longer matches.
  const corrupt = path.join(f.dir, 'corrupt.png');
  const bytes = Buffer.from(fs.readFileSync(f.image));
  const idat = bytes.indexOf('IDAT');
  for (let i = idat + 8; i < idat + 40; i++) bytes[i] = bytes[i]! ^ 0xff;
  fs.writeFileSync(corrupt, bytes);
  bad.push({ name: 'corrupt PNG', model: f.model, image: corrupt, code: 'IMAGE_INVALID', file: corrupt });

  const truncated = copyModel(f, 'truncated');
  const shard = path.join(path.dirname(truncated), 'weights.bin');
  fs.truncateSync(shard, Math.floor(fs.statSync(shard).size / 2));
  bad.push({ name: 'truncated weights shard', model: truncated, image: f.image, code: 'WEIGHTS_INVALID', file: shard });

  const escaping = copyModel(f, 'escaping');
  const json = JSON.parse(fs.readFileSync(escaping, 'utf8'));
  json.weightsManifest[0].paths = ['../../x'];
  fs.writeFileSync(escaping, JSON.stringify(json));
  bad.push({ name: "weights path '../../x'", model: escaping, image: f.image, code: 'WEIGHTS_INVALID', file: escaping });

  const huge = path.join(f.dir, 'huge.png');
  fs.writeFileSync(huge, pngHeaderOnly(30000, 30000));
  bad.push({ name: 'PNG header claiming 30000×30000', model: f.model, image: huge, code: 'IMAGE_TOO_LARGE', file: huge });

  const text = path.join(f.dir, 'notes.png');
  fs.writeFileSync(text, 'these are my notes, not an image\n');
  bad.push({ name: 'text file named .png', model: f.model, image: text, code: 'IMAGE_INVALID', file: text });
  return bad;
}

/** A well-formed PNG signature + IHDR (valid CRC) + one tiny IDAT + IEND, declaring width × height. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
