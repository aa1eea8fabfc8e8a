/**
 * Bilinear resampling as a linear operator with a precomputed table: every output pixel is a weighted
 * sum of (at most) four input pixels. Rotation and resizing are tables; one op applies any table, and
 * its gradient is the table's transpose (a scatter-add), written here because TF.js has no gradient for
 * image rotation (and its own resize gradient is a kernel Loupe could not audit on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { RESAMPLE, registerResampleKernels, type ResampleAttrs } from '../kernels/resample';
import { axisTaps } from './separableResize';

export interface ResampleTable {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** 4 per output pixel, row-major: an input pixel index y·inW + x, or inH·inW for "outside" (reads 0). */
  index: Int32Array<ArrayBufferLike>;
  weight: Float32Array<ArrayBufferLike>;
  /** The table as kernel inputs, once uploaded (see `releaseTable`). */
  uploaded?: { index: tf.Tensor1D; weight: tf.Tensor1D };
}

/** Frees a table's uploaded tensors (a step's tables are used forward and backward, then dropped). */
export function releaseTable(table: ResampleTable): void {
  table.uploaded?.index.dispose();
  table.uploaded?.weight.dispose();
  delete table.uploaded;
}

/**
 * Where a table reads its input: the window (top, left) of a fullH × fullW image — a crop folded into the
 * next resampling instead of run as its own op. Absent: the whole image.
 */
export interface Window {
  top: number;
  left: number;
  fullH: number;
  fullW: number;
}

/** A table for output outH × outW sampling an h × w image (inside `win` of a larger one, when given). */
class TableBuilder {
  readonly table: ResampleTable;
  private readonly outside: number;
  private readonly offset: number;
  private readonly stride: number;

  constructor(private readonly h: number, private readonly w: number, outH: number, outW: number, win?: Window, shared = false) {
    const inH = win?.fullH ?? h;
    const inW = win?.fullW ?? w;
    this.outside = inH * inW;
    this.stride = inW;
    this.offset = win ? win.top * inW + win.left : 0;
    const n = outH * outW * 4;
    // Shared memory when two threads read the table (featureVis/paramThreads.ts).
    const bytes = (k: number) => (shared ? new SharedArrayBuffer(k * 4) : new ArrayBuffer(k * 4));
    this.table = { inH, inW, outH, outW, index: new Int32Array(bytes(n)).fill(this.outside), weight: new Float32Array(bytes(n)) };
  }

  /** The four taps of output pixel p for the position (y, x) of the h × w image; taps outside it read zero. */
  set(p: number, y: number, x: number): void {
    const y0 = Math.floor(y);
    const x0 = Math.floor(x);
    this.setTaps(p, y0, y - y0, x0, x - x0);
  }

  /** The taps of output pixel p around (y0 + fy, x0 + fx), 0 ≤ fy, fx < 1. */
  setTaps(p: number, y0: number, fy: number, x0: number, fx: number): void {
    const { index, weight } = this.table;
    for (let k = 0; k < 4; k++) {
      const ty = y0 + (k >> 1);
      const tx = x0 + (k & 1);
      const wt = (k >> 1 ? fy : 1 - fy) * (k & 1 ? fx : 1 - fx);
      if (wt !== 0 && ty >= 0 && ty < this.h && tx >= 0 && tx < this.w) {
        index[p * 4 + k] = this.offset + ty * this.stride + tx;
        weight[p * 4 + k] = wt;
      }
    }
  }
}

/**
 * Rotation by `radians` counter-clockwise about the image centre, size kept, zero outside: the
 * projective transform tensorflow_addons' `image.rotate` builds (Lucid's random_rotate), sampled bilinearly
 * (Lucent's kornia rotation; Lucid's default interpolation is nearest).
 * Output (x, y) reads input (cos·x − sin·y + ox, sin·x + cos·y + oy), offsets keeping the centre fixed.
 */
export function rotationTable(h: number, w: number, radians: number, win?: Window, shared = false): ResampleTable {
  const t = new TableBuilder(h, w, h, w, win, shared);
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const ox = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2;
  const oy = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) t.set(y * w + x, sin * x + cos * y + oy, cos * x - sin * y + ox);
  }
  return t.table;
}

/**
 * Bilinear resize, clamped at the border like TensorFlow's ResizeBilinear: `alignCorners` maps corner
 * pixels onto corner pixels (scale (in − 1)/(out − 1); Lucent's final upsampling to the model's input),
 * otherwise TF1's legacy mapping src = dst · in/out (Lucid's random_scale, `tf.image.resize_bilinear`).
 */
export function resizeTable(inH: number, inW: number, outH: number, outW: number, alignCorners: boolean, win?: Window): ResampleTable {
  const t = new TableBuilder(inH, inW, outH, outW, win);
  // Separable: the taps of each output row and column (separableResize.ts), then their products.
  const rows = axisTaps(inH, outH, alignCorners);
  const cols = axisTaps(inW, outW, alignCorners);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) t.setTaps(y * outW + x, rows.first[y]!, rows.frac[y]!, cols.first[x]!, cols.frac[x]!);
  }
  return t.table;
}

function runResample(x: tf.Tensor4D, table: ResampleTable, transpose: boolean): tf.Tensor4D {
  registerResampleKernels();
  // Uploaded once and kept (outside any tidy scope) until releaseTable: the forward and the transpose share it.
  if (!table.uploaded || table.uploaded.index.isDisposed) {
    table.uploaded = tf.tidy(() => ({ index: tf.keep(tf.tensor1d(table.index, 'int32')), weight: tf.keep(tf.tensor1d(table.weight)) }));
  }
  const { index, weight } = table.uploaded;
  const attrs: ResampleAttrs = {
    height: transpose ? table.inH : table.outH, width: transpose ? table.inW : table.outW, taps: 4, transpose,
  };
  return tf.engine().runKernel(RESAMPLE, { x, index, weight }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
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
