/**
 * Lucid's stochastic transforms (lucid/optvis/transform.py): each step draws its pad / crop / scale /
 * rotation once for the whole batch, then the image goes through them and is resized bilinearly to the
 * model's input (Lucent's final upsampling). The draws are plain data, so a step can be replayed exactly
 * (the forward and the vector-Jacobian product use the same ones).
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureVisTransform } from '../../protocol/featureVis';
import { releaseTable, resample, resampleTranspose, resizeTable, rotationTable, type ResampleTable } from './resample';
import { resampleLoop } from '../kernels/resample';
import { halves, SERIAL, type Splitter } from './paramThreads';
import { separableResize, type ChannelMap, type SeparableResize } from './separableResize';

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
 * One step's transforms as ops to run, each with the size it reads (`h`, `w`): a pad, a rotation's resampling table
 * or a separable resize (a crop before either folded into it), or a slice (a crop nothing resamples after). Built once per step.
 */
export type TransformStage = { h: number; w: number } & (
  | { kind: 'pad'; pixels: number; value: number }
  | { kind: 'resample'; table: ResampleTable }
  | { kind: 'resize'; resize: SeparableResize; table?: ResampleTable }
  | { kind: 'slice'; top: number; left: number; height: number; width: number });

/** A stage's 4-tap table, for the TF.js ops (a resize's built on first use and kept on the stage). */
function stageTable(s: Extract<TransformStage, { kind: 'resample' | 'resize' }>): ResampleTable {
  if (s.kind === 'resample') return s.table;
  const r = s.resize;
  const win = r.top !== 0 || r.left !== 0 || r.h !== r.fullH || r.w !== r.fullW ? { top: r.top, left: r.left, fullH: r.fullH, fullW: r.fullW } : undefined;
  s.table ??= resizeTable(r.h, r.w, r.outH, r.outW, r.alignCorners, win);
  return s.table;
}

export function prepareTransforms(draws: readonly TransformDraw[], h: number, w: number, sharedTables = false): TransformStage[] {
  const stages: TransformStage[] = [];
  // The tensor the next op reads is `full`; the image is its window (top, left, h, w).
  let full = { h, w };
  let top = 0;
  let left = 0;
  const windowed = () => top !== 0 || left !== 0 || h !== full.h || w !== full.w;
  const win = () => (windowed() ? { top, left, fullH: full.h, fullW: full.w } : undefined);
  const resampled = (stage: Extract<TransformStage, { kind: 'resample' | 'resize' }>, outH: number, outW: number) => {
    stages.push(stage);
    full = { h: outH, w: outW };
    top = 0;
    left = 0;
    h = outH;
    w = outW;
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
        if (d.height !== h || d.width !== w) {
          resampled({ kind: 'resize', resize: separableResize(h, w, d.height, d.width, d.alignCorners, win()), h: full.h, w: full.w }, d.height, d.width);
        }
        break;
      case 'rotate':
        if (d.radians !== 0) resampled({ kind: 'resample', table: rotationTable(h, w, d.radians, win(), sharedTables), h: full.h, w: full.w }, h, w);
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
    else x = resample(x, stageTable(s));
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
      else g = resampleTranspose(g, stageTable(s));
    }
    return g;
  });
}

/** Frees the stages' uploaded tables (call once the step's forward and backward are done). */
export function releaseTransforms(stages: readonly TransformStage[]): void {
  for (const s of stages) if ((s.kind === 'resample' || s.kind === 'resize') && s.table) releaseTable(s.table);
}

/** Images [B, h, w, C] as a plain array with their shape (the array twins of the stages below). */
export interface ImageArray {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** out[b, top + y, left + x] = x[b, y, x] inside an outH × outW image of `fill`. */
function embed(x: ImageArray, outH: number, outW: number, top: number, left: number, fill: number, split: Splitter): ImageArray {
  const [B, h, w, C] = x.shape;
  const data = split.alloc(B * outH * outW * C, fill !== 0 ? 'overwritten' : 'zero');
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
function window(x: ImageArray, top: number, left: number, height: number, width: number, split: Splitter): ImageArray {
  const [B, h, w, C] = x.shape;
  const data = split.alloc(B * height * width * C, 'overwritten');
  const row = width * C;
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < height; y++) {
      const from = ((b * h + top + y) * w + left) * C;
      data.set(x.data.subarray(from, from + row), (b * height + y) * row);
    }
  }
  return { data, shape: [B, height, width, C] };
}

function resampleArray(x: ImageArray, table: ResampleTable, transpose: boolean, split: Splitter): ImageArray {
  const [B, , , C] = x.shape;
  const [height, width] = transpose ? [table.inH, table.inW] : [table.outH, table.outW];
  // Every value written (the transpose zeroes its output first).
  const data = split.alloc(B * height * width * C, 'overwritten');
  const attrs = { height, width, taps: 4, transpose };
  if (transpose) {
    // A scatter: output pixels have no owner to split by.
    resampleLoop(x.data, x.shape, table.index, table.weight, data, attrs);
  } else {
    const [a, b] = halves(table.outH * table.outW);
    split.run('resample', [x.data, x.shape, table.index, table.weight, data, attrs, { from: a[0], to: a[1] }],
      [x.data, x.shape, table.index, table.weight, data, attrs, { from: b[0], to: b[1] }]);
  }
  return { data, shape: [B, height, width, C] };
}

function resizeArray(x: ImageArray, r: SeparableResize, map: ChannelMap | undefined, split: Splitter): ImageArray {
  const [B, , , C] = x.shape;
  const data = split.alloc(B * r.outH * r.outW * C, 'overwritten');
  const [a, b] = halves(r.outH);
  split.run('resize', [x.data, B, C, r, map, data, a[0], a[1]], [x.data, B, C, r, map, data, b[0], b[1]]);
  return { data, shape: [B, r.outH, r.outW, C] };
}

function resizeTransposeArray(dy: ImageArray, r: SeparableResize, map: ChannelMap | undefined, split: Splitter): ImageArray {
  const [B, , , C] = dy.shape;
  const tmp = split.alloc64(B * r.outH * (r.w * C + C), 'overwritten'); // each half zeroes its rows
  const [a, b] = halves(r.outH);
  split.run('resizeTransposeColumns', [dy.data, B, C, r, map, tmp, a[0], a[1]], [dy.data, B, C, r, map, tmp, b[0], b[1]]);
  const d = split.alloc(B * r.fullH * r.fullW * C);
  const [c, e] = halves(r.fullH);
  split.run('resizeTransposeRows', [tmp, B, C, r, d, c[0], c[1]], [tmp, B, C, r, d, e[0], e[1]]);
  return { data: d, shape: [B, r.fullH, r.fullW, C] };
}

/**
 * `applyTransforms` on plain arrays, and below its transpose: the same loops as the TF.js kernels without a
 * tensor per stage (feature visualisation's step runs them outside TF.js; see fourierPipeline.ts). `map`, the
 * model's preprocessing, is applied last: inside the last stage when it is a resize (the input written once).
 * `split` shares the large loops with a helper thread (paramThreads.ts); the results are the same without it.
 */
export function applyTransformsArray(img: ImageArray, stages: readonly TransformStage[], map?: ChannelMap, split: Splitter = SERIAL): ImageArray {
  let x = img;
  for (const [i, s] of stages.entries()) {
    if (s.kind === 'pad') x = embed(x, s.h + 2 * s.pixels, s.w + 2 * s.pixels, s.pixels, s.pixels, s.value, split);
    else if (s.kind === 'slice') x = window(x, s.top, s.left, s.height, s.width, split);
    else if (s.kind === 'resize') {
      const fused = i === stages.length - 1 ? map : undefined;
      x = resizeArray(x, s.resize, fused, split);
      if (fused) return x;
    } else x = resampleArray(x, s.table, false, split);
  }
  return map ? mapChannels(x, map, false) : x;
}

export function transposeTransformsArray(dy: ImageArray, stages: readonly TransformStage[], map?: ChannelMap, split: Splitter = SERIAL): ImageArray {
  const last = stages.at(-1);
  const fused = last?.kind === 'resize' ? map : undefined;
  let g = map && !fused ? mapChannels(dy, map, true) : dy;
  for (let i = stages.length - 1; i >= 0; i--) {
    const s = stages[i]!;
    if (s.kind === 'pad') g = window(g, s.pixels, s.pixels, s.h, s.w, split);
    else if (s.kind === 'slice') g = embed(g, s.h, s.w, s.top, s.left, 0, split);
    else if (s.kind === 'resize') g = resizeTransposeArray(g, s.resize, i === stages.length - 1 ? fused : undefined, split);
    else g = resampleArray(g, s.table, true, split);
  }
  return g;
}

/** `map` on its own (transpose: its linear part's transpose, the channel order reversed back). */
function mapChannels(x: ImageArray, map: ChannelMap, transpose: boolean): ImageArray {
  const C = x.shape[3];
  const { scale, offset, bgr } = map;
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i += C) {
    for (let c = 0; c < C; c++) {
      const from = bgr ? C - 1 - c : c;
      if (transpose) out[i + from] = x.data[i + c]! * scale[c]!;
      else out[i + c] = x.data[i + from]! * scale[c]! + offset[c]!;
    }
  }
  return { data: out, shape: x.shape };
}
