/**
 * Lucid's stochastic transforms (lucid/optvis/transform.py): each step draws its pad / crop / scale /
 * rotation once for the whole batch, then the image goes through them and is resized bilinearly to the
 * model's input (Lucent's final upsampling). The draws are plain data, so a step can be replayed exactly
 * (the forward and the vector-Jacobian product use the same ones).
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureVisTransform } from '../../protocol/featureVis';
import { resampleLoop } from '../kernels/resample';
import { releaseTable, resample, resampleTranspose, resizeTable, rotationTable, type ResampleTable } from './resample';

/** Lucid's `standard_transforms`. */
export const STANDARD_TRANSFORMS: readonly FeatureVisTransform[] = Object.freeze([
  { kind: 'pad', pixels: 12, value: 0.5 },
  { kind: 'jitter', pixels: 8 },
  { kind: 'scale', factors: Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50) },
  { kind: 'rotate', degrees: [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0] },
  { kind: 'jitter', pixels: 4 },
]);

/** One step's draw of one transform, with the size it produces. */
export type TransformDraw =
  | { kind: 'pad'; pixels: number; value: number }
  | { kind: 'crop'; top: number; left: number; height: number; width: number }
  | { kind: 'resize'; height: number; width: number; alignCorners: boolean }
  | { kind: 'rotate'; radians: number };

/**
 * Draws every transform for an image of h × w, ending with the resize to the model's input (outH × outW).
 * `rand` returns uniform numbers in [0, 1).
 */
export function drawTransforms(specs: readonly FeatureVisTransform[], h: number, w: number, outH: number, outW: number,
  rand: () => number): TransformDraw[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(rand() * xs.length))]!;
  const draws: TransformDraw[] = [];
  for (const t of specs) {
    switch (t.kind) {
      case 'pad':
        draws.push({ kind: 'pad', pixels: t.pixels, value: t.value });
        h += 2 * t.pixels;
        w += 2 * t.pixels;
        break;
      case 'jitter': {
        // tf.image.random_crop to size − d: offsets uniform in 0 … d.
        const d = Math.min(t.pixels, h - 1, w - 1);
        draws.push({ kind: 'crop', top: Math.floor(rand() * (d + 1)), left: Math.floor(rand() * (d + 1)), height: h - d, width: w - d });
        h -= d;
        w -= d;
        break;
      }
      case 'scale': {
        // Lucid: int32(float32(scale) · float32(size)), truncated.
        const s = Math.fround(pick(t.factors));
        const nh = Math.max(1, Math.trunc(Math.fround(s * h)));
        const nw = Math.max(1, Math.trunc(Math.fround(s * w)));
        draws.push({ kind: 'resize', height: nh, width: nw, alignCorners: false });
        h = nh;
        w = nw;
        break;
      }
      case 'rotate':
        draws.push({ kind: 'rotate', radians: (pick(t.degrees) * Math.PI) / 180 });
        break;
    }
  }
  if (h !== outH || w !== outW) draws.push({ kind: 'resize', height: outH, width: outW, alignCorners: true });
  return draws;
}

/**
 * One step's transforms as ops to run, each with the size it reads (`h`, `w`): a pad, a resampling table (a crop
 * before it folded into the table), or a slice (a crop nothing resamples after). Built once per step.
 */
export type TransformStage = { h: number; w: number } & (
  | { kind: 'pad'; pixels: number; value: number }
  | { kind: 'resample'; table: ResampleTable }
  | { kind: 'slice'; top: number; left: number; height: number; width: number });

export function prepareTransforms(draws: readonly TransformDraw[], h: number, w: number): TransformStage[] {
  const stages: TransformStage[] = [];
  // The tensor the next op reads is `full`; the image is its window (top, left, h, w).
  let full = { h, w };
  let top = 0;
  let left = 0;
  const windowed = () => top !== 0 || left !== 0 || h !== full.h || w !== full.w;
  const win = () => (windowed() ? { top, left, fullH: full.h, fullW: full.w } : undefined);
  const resampled = (table: ResampleTable) => {
    stages.push({ kind: 'resample', table, h: full.h, w: full.w });
    full = { h: table.outH, w: table.outW };
    top = 0;
    left = 0;
    h = table.outH;
    w = table.outW;
  };
  const slice = () => {
    stages.push({ kind: 'slice', top, left, height: h, width: w, h: full.h, w: full.w });
    full = { h, w };
    top = 0;
    left = 0;
  };
  for (const d of draws) {
    switch (d.kind) {
      case 'pad':
        if (windowed()) slice();
        stages.push({ kind: 'pad', pixels: d.pixels, value: d.value, h, w });
        h += 2 * d.pixels;
        w += 2 * d.pixels;
        full = { h, w };
        break;
      case 'crop':
        top += d.top;
        left += d.left;
        h = d.height;
        w = d.width;
        break;
      case 'resize':
        if (d.height !== h || d.width !== w) resampled(resizeTable(h, w, d.height, d.width, d.alignCorners, win()));
        break;
      case 'rotate':
        if (d.radians !== 0) resampled(rotationTable(h, w, d.radians, win()));
        break;
    }
  }
  if (windowed()) slice();
  return stages;
}

/** Runs the stages on images [B, h, w, C]. Differentiable (pad/slice through TF.js, resampling through resample.ts). */
export function applyTransforms(img: tf.Tensor4D, stages: readonly TransformStage[]): tf.Tensor4D {
  let x = img;
  for (const s of stages) {
    if (s.kind === 'pad') x = tf.pad(x, [[0, 0], [s.pixels, s.pixels], [s.pixels, s.pixels], [0, 0]], s.value);
    else if (s.kind === 'slice') x = tf.slice(x, [0, s.top, s.left, 0], [-1, s.height, s.width, -1]);
    else x = resample(x, s.table);
  }
  return x;
}

/**
 * The transpose of the stages (their linear part: a pad's constant has no gradient): dy at the output → d at the
 * input image. Why not autodiff: a vector-Jacobian product by tf.grad would run the stages forward again first,
 * which cost as much as the transposes themselves (the forward already ran to feed the model).
 */
export function transposeTransforms(dy: tf.Tensor4D, stages: readonly TransformStage[]): tf.Tensor4D {
  return tf.tidy(() => {
    let g = dy;
    for (let i = stages.length - 1; i >= 0; i--) {
      const s = stages[i]!;
      if (s.kind === 'pad') g = tf.slice(g, [0, s.pixels, s.pixels, 0], [-1, s.h, s.w, -1]);
      else if (s.kind === 'slice') g = tf.pad(g, [[0, 0], [s.top, s.h - s.top - s.height], [s.left, s.w - s.left - s.width], [0, 0]]);
      else g = resampleTranspose(g, s.table);
    }
    return g;
  });
}

/** Frees the stages' uploaded tables (call once the step's forward and backward are done). */
export function releaseTransforms(stages: readonly TransformStage[]): void {
  for (const s of stages) if (s.kind === 'resample') releaseTable(s.table);
}

/** Images [B, h, w, C] as a plain array with their shape (the array twins of the stages below). */
export interface ImageArray {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** out[b, top + y, left + x] = x[b, y, x] inside an outH × outW image of `fill`. */
function embed(x: ImageArray, outH: number, outW: number, top: number, left: number, fill: number): ImageArray {
  const [B, h, w, C] = x.shape;
  const data = new Float32Array(B * outH * outW * C);
  if (fill !== 0) data.fill(fill);
  const row = w * C;
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < h; y++) {
      const from = ((b * h + y) * w) * C;
      data.set(x.data.subarray(from, from + row), ((b * outH + top + y) * outW + left) * C);
    }
  }
  return { data, shape: [B, outH, outW, C] };
}

/** The window (top, left, height × width) of every image. */
function window(x: ImageArray, top: number, left: number, height: number, width: number): ImageArray {
  const [B, h, w, C] = x.shape;
  const data = new Float32Array(B * height * width * C);
  const row = width * C;
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < height; y++) {
      const from = ((b * h + top + y) * w + left) * C;
      data.set(x.data.subarray(from, from + row), (b * height + y) * row);
    }
  }
  return { data, shape: [B, height, width, C] };
}

function resampleArray(x: ImageArray, table: ResampleTable, transpose: boolean): ImageArray {
  const [B, , , C] = x.shape;
  const [height, width] = transpose ? [table.inH, table.inW] : [table.outH, table.outW];
  const data = new Float32Array(B * height * width * C);
  resampleLoop(x.data, x.shape, table.index, table.weight, data, { height, width, taps: 4, transpose });
  return { data, shape: [B, height, width, C] };
}

/**
 * `applyTransforms` on plain arrays, and below its transpose: the same loops as the TF.js kernels without a
 * tensor per stage (feature visualisation's step runs them outside TF.js; see fourierPipeline.ts).
 */
export function applyTransformsArray(img: ImageArray, stages: readonly TransformStage[]): ImageArray {
  let x = img;
  for (const s of stages) {
    if (s.kind === 'pad') x = embed(x, s.h + 2 * s.pixels, s.w + 2 * s.pixels, s.pixels, s.pixels, s.value);
    else if (s.kind === 'slice') x = window(x, s.top, s.left, s.height, s.width);
    else x = resampleArray(x, s.table, false);
  }
  return x;
}

export function transposeTransformsArray(dy: ImageArray, stages: readonly TransformStage[]): ImageArray {
  let g = dy;
  for (let i = stages.length - 1; i >= 0; i--) {
    const s = stages[i]!;
    if (s.kind === 'pad') g = window(g, s.pixels, s.pixels, s.h, s.w);
    else if (s.kind === 'slice') g = embed(g, s.h, s.w, s.top, s.left, 0);
    else g = resampleArray(g, s.table, true);
  }
  return g;
}
