/**
 * Bilinear resize as two 1-D passes (rows, then columns) and its transpose, on plain NHWC arrays, for feature
 * visualisation's step (fourierPipeline.ts). The same map as `resizeTable` (resample.ts): every output pixel's
 * four taps are products of one row pair and one column pair, so the step builds two small per-axis tables
 * instead of a 4-tap table per output pixel. Why: at 224 px the per-pixel tables cost ~1.7 ms to build per step,
 * a sixth of the parameterisation, and the two passes read the image fewer times than the gathers.
 */
import type { Window } from './resample';

/** Per output row (or column): the first source index (in the window) and the weight of the next one. */
export interface AxisTaps {
  first: Int32Array;
  frac: Float64Array;
}

export interface SeparableResize {
  /** The image read: a window (top, left, h × w) of a fullH × fullW image. */
  fullH: number;
  fullW: number;
  top: number;
  left: number;
  h: number;
  w: number;
  outH: number;
  outW: number;
  alignCorners: boolean;
  rows: AxisTaps;
  cols: AxisTaps;
}

/**
 * TensorFlow's ResizeBilinear mapping, clamped at the border: `alignCorners` maps corner pixels onto corner
 * pixels (scale (in − 1)/(out − 1)), otherwise TF1's legacy src = dst · in/out. The last row/column
 * interpolates with itself (frac 0), never with what lies outside.
 */
export function axisTaps(size: number, out: number, alignCorners: boolean): AxisTaps {
  const s = alignCorners && out > 1 ? (size - 1) / (out - 1) : size / out;
  const first = new Int32Array(out);
  const frac = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    const pos = Math.min(o * s, size - 1);
    first[o] = Math.floor(pos);
    frac[o] = pos - first[o]!;
  }
  return { first, frac };
}

export function separableResize(h: number, w: number, outH: number, outW: number, alignCorners: boolean, win?: Window): SeparableResize {
  return {
    fullH: win?.fullH ?? h, fullW: win?.fullW ?? w, top: win?.top ?? 0, left: win?.left ?? 0, h, w, outH, outW, alignCorners,
    rows: axisTaps(h, outH, alignCorners), cols: axisTaps(w, outW, alignCorners),
  };
}

/**
 * A per-channel affine map on the resize's output, out[c] = v[src(c)]·scale[c] + offset[c] with src(c) = C − 1 − c
 * when `bgr`: the model's preprocessing, folded into the last resize so the 224 px input is written once.
 */
export interface ChannelMap {
  scale: Float32Array;
  offset: Float32Array;
  bgr: boolean;
}

/**
 * x [B, fullH, fullW, C] → [B, outH, outW, C], then `map` when given: output rows `from` … `to` − 1 of every image
 * into `out` (all by default; a range lets two threads share the work).
 */
export function resizeForward(x: Float32Array, batch: number, channels: number, r: SeparableResize, map?: ChannelMap,
  out: Float32Array = new Float32Array(batch * r.outH * r.outW * channels), from = 0, to = r.outH): Float32Array {
  const { fullH, fullW, top, left, w, outH, outW, rows, cols } = r;
  const C = channels;
  const rowLen = w * C;
  // One spare column per row: the last column's second tap (weight 0) reads it, so the loop has no branch.
  const stride = rowLen + C;
  const tmp = new Float64Array(outH * stride);
  // Per channel of the output: the channel it reads, its scale and offset (identity without a map).
  const src = Int32Array.from({ length: C }, (_, c) => (map?.bgr ? C - 1 - c : c));
  const scale = Float64Array.from({ length: C }, (_, c) => map?.scale[c] ?? 1);
  const offset = Float64Array.from({ length: C }, (_, c) => map?.offset[c] ?? 0);
  for (let b = 0; b < batch; b++) {
    // Rows: each output row from its two source rows, over the window's width.
    for (let oy = from; oy < to; oy++) {
      const fy = rows.frac[oy]!;
      const src0 = ((b * fullH + top + rows.first[oy]!) * fullW + left) * C;
      const src1 = fy === 0 ? src0 : src0 + fullW * C;
      const gy = 1 - fy;
      const t = oy * stride;
      for (let i = 0; i < rowLen; i++) tmp[t + i] = gy * x[src0 + i]! + fy * x[src1 + i]!;
    }
    // Columns: each output pixel from its two columns of the row pass.
    if (C === 3) {
      const [c0, c1, c2] = src as unknown as [number, number, number];
      const [s0, s1, s2] = scale as unknown as [number, number, number];
      const [o0, o1, o2] = offset as unknown as [number, number, number];
      for (let oy = from; oy < to; oy++) {
        const t = oy * stride;
        let o = ((b * outH + oy) * outW) * 3;
        for (let ox = 0; ox < outW; ox++, o += 3) {
          const fx = cols.frac[ox]!;
          const gx = 1 - fx;
          const p = t + cols.first[ox]! * 3;
          out[o] = (gx * tmp[p + c0]! + fx * tmp[p + 3 + c0]!) * s0 + o0;
          out[o + 1] = (gx * tmp[p + c1]! + fx * tmp[p + 3 + c1]!) * s1 + o1;
          out[o + 2] = (gx * tmp[p + c2]! + fx * tmp[p + 3 + c2]!) * s2 + o2;
        }
      }
    } else {
      for (let oy = from; oy < to; oy++) {
        const t = oy * stride;
        let o = ((b * outH + oy) * outW) * C;
        for (let ox = 0; ox < outW; ox++, o += C) {
          const fx = cols.frac[ox]!;
          const gx = 1 - fx;
          const p = t + cols.first[ox]! * C;
          for (let c = 0; c < C; c++) out[o + c] = (gx * tmp[p + src[c]!]! + fx * tmp[p + C + src[c]!]!) * scale[c]! + offset[c]!;
        }
      }
    }
  }
  return out;
}

/** The transpose of `resizeForward` (with its map's linear part): dy [B, outH, outW, C] → [B, fullH, fullW, C], zero outside the window. */
export function resizeTranspose(dy: Float32Array, batch: number, channels: number, r: SeparableResize, map?: ChannelMap): Float32Array {
  // The row pass's gradient between the two phases: [B, outH, w·C + C] (one spare column per row).
  const tmp = new Float64Array(batch * r.outH * (r.w * channels + channels));
  resizeTransposeColumns(dy, batch, channels, r, map, tmp);
  return resizeTransposeRows(tmp, batch, channels, r);
}

/**
 * The transpose's first phase: each output pixel's gradient (through the map) onto its two columns of the row
 * pass, for output rows `from` … `to` − 1 (every row of `tmp` is written by exactly one range).
 */
export function resizeTransposeColumns(dy: Float32Array, batch: number, channels: number, r: SeparableResize, map: ChannelMap | undefined,
  tmp: Float64Array, from = 0, to = r.outH): void {
  const { w, outH, outW, cols } = r;
  const C = channels;
  // One spare column per row: the last column's second tap (weight 0) lands there, so the loop has no branch.
  const stride = w * C + C;
  const src = Int32Array.from({ length: C }, (_, c) => (map?.bgr ? C - 1 - c : c));
  const scale = Float64Array.from({ length: C }, (_, c) => map?.scale[c] ?? 1);
  for (let b = 0; b < batch; b++) {
    tmp.fill(0, (b * outH + from) * stride, (b * outH + to) * stride);
    if (C === 3) {
      const [c0, c1, c2] = src as unknown as [number, number, number];
      const [s0, s1, s2] = scale as unknown as [number, number, number];
      for (let oy = from; oy < to; oy++) {
        const t = (b * outH + oy) * stride;
        let o = ((b * outH + oy) * outW) * 3;
        for (let ox = 0; ox < outW; ox++, o += 3) {
          const fx = cols.frac[ox]!;
          const gx = 1 - fx;
          const p = t + cols.first[ox]! * 3;
          const v0 = dy[o]! * s0;
          const v1 = dy[o + 1]! * s1;
          const v2 = dy[o + 2]! * s2;
          tmp[p + c0]! += gx * v0;
          tmp[p + c1]! += gx * v1;
          tmp[p + c2]! += gx * v2;
          tmp[p + 3 + c0]! += fx * v0;
          tmp[p + 3 + c1]! += fx * v1;
          tmp[p + 3 + c2]! += fx * v2;
        }
      }
    } else {
      for (let oy = from; oy < to; oy++) {
        const t = (b * outH + oy) * stride;
        let o = ((b * outH + oy) * outW) * C;
        for (let ox = 0; ox < outW; ox++, o += C) {
          const fx = cols.frac[ox]!;
          const gx = 1 - fx;
          const p = t + cols.first[ox]! * C;
          for (let c = 0; c < C; c++) {
            const v = dy[o + c]! * scale[c]!;
            tmp[p + src[c]!]! += gx * v;
            tmp[p + C + src[c]!]! += fx * v;
          }
        }
      }
    }
  }
}

/**
 * The transpose's second phase: each row of the row pass onto its two source rows, writing source rows
 * `from` … `to` − 1 of the full image into `d` (each range goes over every output row in the same order, so
 * a split sums each value exactly as one pass does). Rows outside the window stay zero.
 */
export function resizeTransposeRows(tmp: Float64Array, batch: number, channels: number, r: SeparableResize,
  d: Float32Array = new Float32Array(batch * r.fullH * r.fullW * channels), from = 0, to = r.fullH): Float32Array {
  const { fullH, fullW, top, left, w, outH, rows } = r;
  const C = channels;
  const rowLen = w * C;
  const stride = rowLen + C;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const fy = rows.frac[oy]!;
      const y0 = top + rows.first[oy]!;
      const t = (b * outH + oy) * stride;
      if (y0 >= from && y0 < to) {
        const d0 = ((b * fullH + y0) * fullW + left) * C;
        const gy = 1 - fy;
        for (let i = 0; i < rowLen; i++) d[d0 + i]! += gy * tmp[t + i]!;
      }
      if (fy !== 0 && y0 + 1 >= from && y0 + 1 < to) {
        const d1 = ((b * fullH + y0 + 1) * fullW + left) * C;
        for (let i = 0; i < rowLen; i++) d[d1 + i]! += fy * tmp[t + i]!;
      }
    }
  }
  return d;
}
