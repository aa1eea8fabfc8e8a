/**
 * The parameterisation's loops that two threads share (paramThreads.ts): each takes its share as a range and
 * writes only there, so a split computes every value exactly as one pass does. The helper thread looks them up
 * here by name; the arguments are typed arrays on shared memory and plain numbers and objects.
 */
import { resampleLoop } from '../kernels/resample';
import { adamRange } from './adam';
import { adjointColumns, adjointRows, irfftColumns, irfftRows } from './fftLoops';
import { resizeForward, resizeTransposeColumns, resizeTransposeRows } from './separableResize';

/**
 * The inverse FFT's output [B, C, h, w] → images [B, h, w, C] through Lucid's /4, the colour matrix `color`
 * (3 × 3, row-major; none for other channel counts) and the sigmoid, for pixels `from` … `to` − 1 of every image.
 */
export function colourSigmoid(raw: Float32Array, images: Float32Array, color: Float32Array | undefined, batch: number, C: number,
  plane: number, from: number, to: number): void {
  for (let b = 0; b < batch; b++) {
    const src = b * C * plane;
    if (color && C === 3) {
      // Lucid's /4 folded into the colour matrix.
      const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = Array.from(color, (v) => v / 4) as [number, number, number, number, number, number, number, number, number];
      for (let p = from, out = (b * plane + from) * 3; p < to; p++, out += 3) {
        const r = raw[src + p]!;
        const g = raw[src + plane + p]!;
        const bl = raw[src + 2 * plane + p]!;
        images[out] = 1 / (1 + Math.exp(-(m00 * r + m01 * g + m02 * bl)));
        images[out + 1] = 1 / (1 + Math.exp(-(m10 * r + m11 * g + m12 * bl)));
        images[out + 2] = 1 / (1 + Math.exp(-(m20 * r + m21 * g + m22 * bl)));
      }
    } else {
      for (let p = from; p < to; p++) {
        const out = (b * plane + p) * C;
        for (let c = 0; c < C; c++) images[out + c] = 1 / (1 + Math.exp(-raw[src + c * plane + p]! / 4));
      }
    }
  }
}

/** The transpose of `colourSigmoid` at its output `images`: dImages [B, h, w, C] → dRaw [B, C, h, w], same pixel range. */
export function colourSigmoidBack(dImages: Float32Array, images: Float32Array, dRaw: Float32Array, color: Float32Array | undefined,
  batch: number, C: number, plane: number, from: number, to: number): void {
  for (let b = 0; b < batch; b++) {
    const dst = b * C * plane;
    if (color && C === 3) {
      // The transpose of the colour matrix, with Lucid's /4 folded in.
      const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = Array.from(color, (v) => v / 4) as [number, number, number, number, number, number, number, number, number];
      for (let p = from, at = (b * plane + from) * 3; p < to; p++, at += 3) {
        const s0 = images[at]!;
        const s1 = images[at + 1]!;
        const s2 = images[at + 2]!;
        const d0 = dImages[at]! * s0 * (1 - s0);
        const d1 = dImages[at + 1]! * s1 * (1 - s1);
        const d2 = dImages[at + 2]! * s2 * (1 - s2);
        dRaw[dst + p] = m00 * d0 + m10 * d1 + m20 * d2;
        dRaw[dst + plane + p] = m01 * d0 + m11 * d1 + m21 * d2;
        dRaw[dst + 2 * plane + p] = m02 * d0 + m12 * d1 + m22 * d2;
      }
    } else {
      for (let p = from; p < to; p++) {
        const at = (b * plane + p) * C;
        for (let c = 0; c < C; c++) {
          const v = images[at + c]!;
          dRaw[dst + c * plane + p] = (dImages[at + c]! * v * (1 - v)) / 4;
        }
      }
    }
  }
}

export const PARAM_KERNELS = {
  irfftColumns,
  irfftRows,
  adjointRows,
  adjointColumns,
  colour: colourSigmoid,
  colourBack: colourSigmoidBack,
  resize: resizeForward,
  resizeTransposeColumns,
  resizeTransposeRows,
  resample: resampleLoop,
  adam: adamRange,
} as const;

export type ParamKernel = keyof typeof PARAM_KERNELS;
