/**
 * Bilinear resampling as a linear operator with a precomputed table: every output pixel is a weighted
 * sum of (at most) four input pixels. Rotation and resizing are tables; one op applies any table, and
 * its gradient is the table's transpose (a scatter-add), written here because TF.js has no gradient for
 * image rotation (and its own resize gradient is a kernel Loupe could not audit on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { RESAMPLE, registerResampleKernels, type ResampleAttrs } from '../kernels/resample';

export interface ResampleTable {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** 4 per output pixel, row-major: an input pixel index y·inW + x, or inH·inW for "outside" (reads 0). */
  index: Int32Array;
  weight: Float32Array;
}

function emptyTable(inH: number, inW: number, outH: number, outW: number): ResampleTable {
  const n = outH * outW * 4;
  return { inH, inW, outH, outW, index: new Int32Array(n).fill(inH * inW), weight: new Float32Array(n) };
}

/** Sets the four taps of output pixel p for the input position (y, x); positions outside read zero. */
function setBilinear(t: ResampleTable, p: number, y: number, x: number): void {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const outside = t.inH * t.inW;
  for (let k = 0; k < 4; k++) {
    const ty = y0 + (k >> 1);
    const tx = x0 + (k & 1);
    const wt = (k >> 1 ? fy : 1 - fy) * (k & 1 ? fx : 1 - fx);
    const inside = ty >= 0 && ty < t.inH && tx >= 0 && tx < t.inW && wt !== 0;
    t.index[p * 4 + k] = inside ? ty * t.inW + tx : outside;
    t.weight[p * 4 + k] = inside ? wt : 0;
  }
}

/**
 * The table reading its input from a window (top, left) of a larger fullH × fullW image: a crop folded into
 * the next resampling instead of run as its own op.
 */
export function onWindow(t: ResampleTable, top: number, left: number, fullH: number, fullW: number): ResampleTable {
  if (top === 0 && left === 0 && fullH === t.inH && fullW === t.inW) return t;
  const inside = t.inH * t.inW;
  const index = t.index.map((i) => (i >= inside ? fullH * fullW : (Math.floor(i / t.inW) + top) * fullW + (i % t.inW) + left));
  return { ...t, inH: fullH, inW: fullW, index };
}

/**
 * Rotation by `radians` counter-clockwise about the image centre, size kept, zero outside: the
 * projective transform tensorflow_addons' `image.rotate` builds (Lucid's random_rotate), sampled bilinearly
 * (Lucent's kornia rotation; Lucid's default interpolation is nearest).
 * Output (x, y) reads input (cos·x − sin·y + ox, sin·x + cos·y + oy), offsets keeping the centre fixed.
 */
export function rotationTable(h: number, w: number, radians: number): ResampleTable {
  const t = emptyTable(h, w, h, w);
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const ox = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2;
  const oy = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) setBilinear(t, y * w + x, sin * x + cos * y + oy, cos * x - sin * y + ox);
  }
  return t;
}

/**
 * Bilinear resize, clamped at the border like TensorFlow's ResizeBilinear: `alignCorners` maps corner
 * pixels onto corner pixels (scale (in − 1)/(out − 1); Lucent's final upsampling to the model's input),
 * otherwise TF1's legacy mapping src = dst · in/out (Lucid's random_scale, `tf.image.resize_bilinear`).
 */
export function resizeTable(inH: number, inW: number, outH: number, outW: number, alignCorners: boolean): ResampleTable {
  const t = emptyTable(inH, inW, outH, outW);
  const scale = (i: number, o: number) => (alignCorners && o > 1 ? (i - 1) / (o - 1) : i / o);
  const sy = scale(inH, outH);
  const sx = scale(inW, outW);
  for (let y = 0; y < outH; y++) {
    // Clamped like TF: the last row/column interpolates with itself, never with the zero outside.
    const yy = Math.min(y * sy, inH - 1);
    for (let x = 0; x < outW; x++) {
      const xx = Math.min(x * sx, inW - 1);
      setBilinear(t, y * outW + x, yy, xx);
    }
  }
  return t;
}

function runResample(x: tf.Tensor4D, table: ResampleTable, transpose: boolean): tf.Tensor4D {
  registerResampleKernels();
  // Uploaded per call (~0.1 ms): tables change every optimisation step.
  const index = tf.tensor1d(table.index, 'int32');
  const weight = tf.tensor1d(table.weight);
  const attrs: ResampleAttrs = {
    height: transpose ? table.inH : table.outH, width: transpose ? table.inW : table.outW, taps: 4, transpose,
  };
  try {
    return tf.engine().runKernel(RESAMPLE, { x, index, weight }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  } finally {
    index.dispose();
    weight.dispose();
  }
}

/** x [B, inH, inW, C] → [B, outH, outW, C]; differentiable, its gradient being `resampleTranspose`. */
export function resample(x: tf.Tensor4D, table: ResampleTable): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: resampleForward(args[0] as tf.Tensor4D, table),
    gradFunc: (dy: tf.Tensor) => resampleTranspose(dy as tf.Tensor4D, table),
  }));
  return op(x) as tf.Tensor4D;
}

export function resampleForward(x: tf.Tensor4D, table: ResampleTable): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h !== table.inH || w !== table.inW) throw new Error(`internal: resample table for ${table.inH}×${table.inW}, image ${h}×${w}`);
  return runResample(x, table, false);
}

/** The transpose: dy [B, outH, outW, C] → [B, inH, inW, C], each output's gradient scattered onto its taps. */
export function resampleTranspose(dy: tf.Tensor4D, table: ResampleTable): tf.Tensor4D {
  const [, oh, ow] = dy.shape;
  if (oh !== table.outH || ow !== table.outW) throw new Error(`internal: resample transpose of ${oh}×${ow}`);
  return runResample(dy, table, true);
}
