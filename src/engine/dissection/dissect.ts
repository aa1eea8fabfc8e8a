/**
 * Network dissection (Bau et al., CVPR 2017) of one layer over a probe set, in two streaming passes:
 *   1. every unit's activations over all images and positions feed a quantile sketch → T_k,
 *      and each unit keeps its top images (by maximum activation);
 *   2. each unit's map, upsampled and thresholded at T_k, is counted against the concept masks.
 * Memory depends on the layer and the probe's concept count, never on the number of images.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DissectionCategory, DissectedUnit } from '../../protocol/types';
import { throwIfAborted } from '../../protocol/errors';
import { toModelInput } from '../image/preprocess';
import { resizeImage } from '../image/resize';
import type { LoadedModel } from '../model/loader';
import type { RgbaImage, RunHooks } from '../types';
import type { ResolvedDissectOptions } from './options';
import type { ProbeDataset, Segmentation } from './probe/types';
import { UnitQuantiles } from './quantile';
import { ActivationSpill } from './spill';
import { IouTally } from './tally';

/** A unit's best images so far: activation maps at the layer's resolution, best first. */
export interface TopImage {
  image: number;
  activation: number;
  map: Float32Array;
}

export interface DissectionComputation {
  /** [H, W, C] of the layer's output. */
  layerShape: [number, number, number];
  /** Channel of each dissected unit. */
  channels: number[];
  thresholds: Float64Array;
  /** units × concepts, row-major. */
  iou: Float64Array;
  /** Share of all probe pixels inside each unit's mask (≈ the quantile, unless activations tie at T_k). */
  coverage: Float64Array;
  top: TopImage[][];
}

/** Largest model-input batch, in values: bounds the memory of one forward pass. */
const BATCH_VALUES = 1.3e6;
const MAX_BATCH = 32;
/** Above this, the second pass runs the model again instead of reading the first pass's activations from disk. */
export const SPILL_LIMIT_BYTES = 2 ** 31;

export interface ComputeOptions {
  /** Folder for the first pass's activations (deleted when done); none: run the model twice. */
  spillDir?: string;
}

/**
 * One image as model input. Opaque images that need enlarging are converted at their own size and
 * resized on the backend: bilinear weights sum to one, so resizing commutes with the per-channel
 * affine preprocessing and this equals resizing first (resizeImage is bilinear when enlarging).
 */
function toInput(image: RgbaImage, model: LoadedModel): tf.Tensor3D {
  const [H, W, C] = model.graph.inputShape;
  const pre = model.description.preprocessing;
  let opaque = true;
  for (let i = 3; i < image.data.length && opaque; i += 4) opaque = image.data[i] === 255;
  if (!opaque || image.width > W || image.height > H || (image.width === W && image.height === H)) {
    return tf.tensor3d(toModelInput(resizeImage(image, W, H), pre, C), [H, W, C]);
  }
  return tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(toModelInput(image, pre, C), [image.height, image.width, C]), [H, W], false, true));
}

export async function computeDissection(model: LoadedModel, probe: ProbeDataset, options: ResolvedDissectOptions,
  hooks: RunHooks = {}, compute: ComputeOptions = {}): Promise<DissectionComputation> {
  const layerInfo = model.description.layers.find((l) => l.name === options.layer)!;
  const [h, w, k] = layerInfo.outputShape as [number, number, number];
  const channels = options.units ?? Array.from({ length: k }, (_, i) => i);
  const units = channels.length;
  const [H, W, C] = model.graph.inputShape;
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_VALUES / (H * W * C))));
  const blockLength = h * w * units;
  const identity = channels.map((_, u) => u);

  /** Runs the model to the layer over the probe set; `onImage` gets each image's units as an h × w × units block. */
  const sweep = async (pass: number, onImage: (block: Float32Array, index: number, seg: Segmentation) => void) => {
    for (let first = 0; first < probe.length; first += batch) {
      throwIfAborted(hooks.signal);
      const n = Math.min(batch, probe.length - first);
      const inputs: tf.Tensor3D[] = [];
      const segs: Segmentation[] = [];
      try {
        for (let b = 0; b < n; b++) {
          const sample = await probe.sample(first + b);
          inputs.push(toInput(sample.image, model));
          segs.push(sample.segmentation);
        }
        const stacked = tf.stack(inputs) as tf.Tensor4D;
        const [out] = await model.passes.forward(stacked, [options.layer]).finally(() => stacked.dispose());
        const acts = (await out!.data()) as Float32Array;
        out!.dispose();
        for (let b = 0; b < n; b++) {
          const block = new Float32Array(blockLength);
          const base = b * h * w * k;
          for (let p = 0; p < h * w; p++) {
            for (let u = 0; u < units; u++) block[p * units + u] = acts[base + p * k + channels[u]!]!;
          }
          onImage(block, first + b, segs[b]!);
        }
      } finally {
        tf.dispose(inputs);
      }
      hooks.onProgress?.(0.45 * (pass + (first + n) / probe.length), `${pass === 0 ? 'thresholds' : 'IoU'}: ${first + n}/${probe.length} probe images`);
      // Let the worker read a cancellation between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  const quantiles = new UnitQuantiles(units);
  const top: TopImage[][] = channels.map(() => []);
  const estimate = probe.length * (blockLength * 4 + 64 * 1024);
  const spill = compute.spillDir && estimate <= SPILL_LIMIT_BYTES ? new ActivationSpill(path.join(compute.spillDir, 'activations.bin')) : undefined;
  try {
    await sweep(0, (block, index, seg) => {
      quantiles.add(block, units, identity);
      spill?.write(block, seg);
      for (let u = 0; u < units; u++) {
        let max = -Infinity;
        for (let i = u; i < blockLength; i += units) if (block[i]! > max) max = block[i]!;
        const list = top[u]!;
        if (list.length === options.topImages && max <= list.at(-1)!.activation) continue;
        const map = new Float32Array(h * w);
        for (let p = 0; p < h * w; p++) map[p] = block[p * units + u]!;
        const at = list.findIndex((t) => max > t.activation);
        list.splice(at < 0 ? list.length : at, 0, { image: index, activation: max, map });
        if (list.length > options.topImages) list.pop();
      }
    });
    const thresholds = quantiles.quantiles(1 - options.quantile);

    const categoryOf = Int32Array.from(probe.concepts, (c) => Math.max(0, probe.categories.indexOf(c.category)));
    const tally = new IouTally(units, probe.concepts.length, categoryOf, probe.categories.length);
    const count = (block: Float32Array, seg: Segmentation) => tally.addImage(block, 0, h, w, units, identity, thresholds, seg);
    if (spill) {
      for (let i = 0; i < probe.length; i++) {
        if (i % 64 === 0) {
          throwIfAborted(hooks.signal);
          hooks.onProgress?.(0.45 + 0.45 * (i / probe.length), `IoU: ${i}/${probe.length} probe images`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        const { block, segmentation } = spill.read();
        count(block, segmentation);
      }
    } else {
      await sweep(1, (block, _index, seg) => count(block, seg));
    }
    return { layerShape: [h, w, k], channels, thresholds, iou: tally.iou(), coverage: tally.unitTotal.map((t) => t / Math.max(1, tally.pixels)), top };
  } finally {
    spill?.close();
  }
}

/** Per unit: the best concept, whether it clears the IoU threshold, and the runners-up. */
export function labelUnits(computation: DissectionComputation, probe: ProbeDataset, iouThreshold: number,
  stripName: (unit: number) => string): DissectedUnit[] {
  const nc = probe.concepts.length;
  return computation.channels.map((unit, u) => {
    const ranked: number[] = [];
    for (let c = 1; c < nc; c++) if (computation.iou[u * nc + c]! > 0) ranked.push(c);
    ranked.sort((a, b) => computation.iou[u * nc + b]! - computation.iou[u * nc + a]!);
    const best = ranked[0];
    const iou = best === undefined ? 0 : computation.iou[u * nc + best]!;
    return {
      unit,
      label: best === undefined ? '-' : probe.concepts[best]!.name,
      category: best === undefined ? '-' : probe.concepts[best]!.category,
      iou,
      interpretable: iou > iouThreshold,
      threshold: computation.thresholds[u]!,
      runnersUp: ranked.slice(1, 4).map((c) => ({ label: probe.concepts[c]!.name, category: probe.concepts[c]!.category, iou: computation.iou[u * nc + c]! })),
      top: computation.top[u]!.map((t) => ({ image: t.image, activation: t.activation })),
      strip: stripName(unit),
    };
  });
}

/** Per category: interpretable units and their distinct concepts, most frequent first. */
export function summarizeCategories(units: DissectedUnit[], categories: readonly string[]): DissectionCategory[] {
  return categories.map((name) => {
    const counts = new Map<string, number>();
    for (const u of units) if (u.interpretable && u.category === name) counts.set(u.label, (counts.get(u.label) ?? 0) + 1);
    return {
      name,
      units: [...counts.values()].reduce((s, n) => s + n, 0),
      concepts: [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label]) => label),
    };
  });
}
