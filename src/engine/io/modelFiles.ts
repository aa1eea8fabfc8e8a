import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ModelFormat } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';
import { formatBytes, readUntrusted } from './untrusted';

export interface ModelFiles {
  file: string;
  dir: string;
  format: ModelFormat;
  artifacts: tf.io.ModelArtifacts;
  /** Bytes of model.json and every shard, in order: the cache key of analyses on disk. */
  fingerprintParts: Buffer[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

interface WeightGroup { paths: string[]; weights: tf.io.WeightsManifestEntry[] }

/**
 * Reads a TF.js model.json and its weight shards without trusting them: shard paths must stay in the
 * model's folder, shards must exist and hold exactly the bytes the manifest describes.
 */
export function readModelFiles(modelJsonPath: string): ModelFiles {
  const file = path.resolve(modelJsonPath);
  const dir = path.dirname(file);
  const text = readUntrusted(file, { maxBytes: MAX_MODEL_JSON_BYTES, what: 'model file', missingHint: 'point Loupe at a TF.js model.json' });
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new LoupeError('MODEL_INVALID', `not valid JSON: ${(e as Error).message}`, file, 'is this a TF.js model.json?');
  }
  if (!json || typeof json !== 'object' || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new LoupeError('MODEL_INVALID', 'has no "modelTopology" object', file,
      'Loupe reads TF.js Layers or Graph models (model.json written by tfjs or tensorflowjs_converter)');
  }
  const topology = json.modelTopology as Record<string, unknown>;
  const format: ModelFormat = json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph' : 'layers';
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) {
    throw new LoupeError('MODEL_INVALID', 'has no "weightsManifest" list', file, 're-export the model with its weights');
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  let declared = 0;
  manifest.forEach((groupRaw, g) => {
    const group = groupRaw as WeightGroup;
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new LoupeError('MODEL_INVALID', `weightsManifest[${g}] needs "paths" and "weights" lists`, file);
    }
    // The sizes the manifest declares are checked before a shard is opened: a shard larger than what is
    // left of its group is refused from its size alone, never read.
    const need = group.weights.reduce((s, w, i) => s + specBytes(w, `weightsManifest[${g}].weights[${i}]`, file), 0);
    declared += need;
    if (declared > MAX_WEIGHT_BYTES) {
      throw new LoupeError('WEIGHTS_INVALID', `the weights manifest declares ${formatBytes(declared)} of weights, more than the ${formatBytes(MAX_WEIGHT_BYTES)} Loupe loads`, file,
        'Loupe explains image classifiers small enough to hold in memory');
    }
    let have = 0;
    const groupBuffers = group.paths.map((p) => {
      const shard = readShard(p, dir, file, Math.max(0, need - have));
      have += shard.length;
      return shard;
    });
    if (have !== need) {
      const shards = group.paths.join(', ');
      throw new LoupeError('WEIGHTS_INVALID',
        `weight shard${group.paths.length > 1 ? 's' : ''} ${shards} hold${group.paths.length > 1 ? '' : 's'} ${have} bytes but the manifest describes ${need}`,
        path.join(dir, String(group.paths[0] ?? '')),
        have < need ? 'the shard is truncated or stale: re-export the model' : 'the shard does not belong to this model.json: re-export the model');
    }
    specs.push(...group.weights);
    buffers.push(...groupBuffers);
  });
  const weightData = Buffer.concat(buffers);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: topology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: specs,
    weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    format: typeof json.format === 'string' ? json.format : undefined,
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : undefined,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    signature: json.signature as Record<string, unknown> | undefined,
  };
  return { file, dir, format, artifacts, fingerprintParts: [text, ...buffers] };
}

/** Largest model.json read (topologies of very large models stay far below it). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/** Largest total of weights loaded (every analysis keeps several copies of activations besides). */
export const MAX_WEIGHT_BYTES = 1024 * 1024 * 1024;

/** One shard, read only when it stays in the model's folder (after symlinks) and holds at most the `remaining` bytes its group declares. */
function readShard(relative: unknown, dir: string, file: string, remaining: number): Buffer {
  if (typeof relative !== 'string' || relative.length === 0) {
    throw new LoupeError('MODEL_INVALID', 'a weights manifest path is not a string', file);
  }
  const target = path.resolve(dir, relative);
  const rel = path.relative(dir, target);
  if (path.isAbsolute(relative) || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new LoupeError('WEIGHTS_INVALID', `weight path '${relative}' leaves the model's folder`, file,
      'weight shards must sit in the folder of model.json; Loupe refuses to read other files');
  }
  if (!fs.existsSync(target) && !isLink(target)) {
    throw new LoupeError('WEIGHTS_INVALID', `weight shard '${relative}' listed in model.json is missing`, target,
      'copy the .bin files that were exported with model.json into its folder');
  }
  return readUntrusted(relative, {
    inside: dir, maxBytes: remaining, what: `weight shard '${relative}'`,
    missingCode: 'WEIGHTS_INVALID', invalidCode: 'WEIGHTS_INVALID', referencedBy: file,
  });
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function specBytes(spec: tf.io.WeightsManifestEntry, where: string, file: string): number {
  if (!spec || typeof spec.name !== 'string' || !Array.isArray(spec.shape)
      || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new LoupeError('MODEL_INVALID', `${where} needs a name and a shape of non-negative integers`, file);
  }
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = DTYPE_BYTES[dtype];
  if (!bytes || (!spec.quantization && !['float32', 'int32', 'bool'].includes(spec.dtype))) {
    throw new LoupeError('MODEL_INVALID', `${where} ('${spec.name}') has dtype '${dtype}', which Loupe cannot read`, file);
  }
  return bytes * spec.shape.reduce((a, b) => a * b, 1);
}
