import type { Preprocessing } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';
import type { RgbaImage } from '../types';

/** ITU-R BT.601 luma weights, the ones PIL's convert('L') and OpenCV's RGB2GRAY use. */
export const LUMA_601 = [0.299, 0.587, 0.114] as const;

/**
 * Converts an image (already at the model's input size) into the model's input tensor data,
 * H × W × C row-major:  x = ((pixel / 255) · (max − min) + min − mean[c]) / std[c].
 *
 * - Alpha is composited over black (pixel · alpha / 255): transparent areas carry no signal,
 *   which is also what the 'black' baselines mean.
 * - 'bgr' swaps the channel order; mean/std are given in the model's own channel order
 *   (for 'bgr', mean[0] is the blue mean, as in Caffe-style sidecars).
 * - 'gray' uses BT.601 luma 0.299 R + 0.587 G + 0.114 B.
 * - mean/std of length 1 apply to every channel.
 */
export function toModelInput(img: RgbaImage, pre: Preprocessing, channels: number): Float32Array {
  const { scale, offset } = affine(pre, channels);
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const src = img.data;
  for (let i = 0; i < n; i++) {
    const a = src[i * 4 + 3]! / 255;
    const r = src[i * 4]! * a;
    const g = src[i * 4 + 1]! * a;
    const b = src[i * 4 + 2]! * a;
    const o = i * channels;
    if (pre.channels === 'gray') {
      out[o] = (LUMA_601[0] * r + LUMA_601[1] * g + LUMA_601[2] * b) * scale[0]! + offset[0]!;
    } else if (pre.channels === 'rgb') {
      out[o] = r * scale[0]! + offset[0]!;
      out[o + 1] = g * scale[1]! + offset[1]!;
      out[o + 2] = b * scale[2]! + offset[2]!;
    } else {
      out[o] = b * scale[0]! + offset[0]!;
      out[o + 1] = g * scale[1]! + offset[1]!;
      out[o + 2] = r * scale[2]! + offset[2]!;
    }
  }
  return out;
}

/**
 * The model-input value of one pixel given as [r, g, b] or [r, g, b, a] in 0..255
 * (e.g. [0, 0, 0] is the black baseline). Same formula as toModelInput.
 */
export function pixelToInput(pixel: number[], pre: Preprocessing, channels: number): number[] {
  if (pixel.length !== 3 && pixel.length !== 4) {
    throw new LoupeError('BAD_REQUEST', `a pixel needs 3 or 4 values (r, g, b[, a]), got ${pixel.length}`);
  }
  const img: RgbaImage = { width: 1, height: 1, data: Float32Array.from([pixel[0]!, pixel[1]!, pixel[2]!, pixel[3] ?? 255]) };
  return Array.from(toModelInput(img, pre, channels));
}

/** Per-channel x = v · scale[c] + offset[c] for v in 0..255, checked against the channel count. */
export function affine(pre: Preprocessing, channels: number): { scale: number[]; offset: number[] } {
  const expected = pre.channels === 'gray' ? 1 : 3;
  if (channels !== expected) {
    throw new LoupeError(
      'BAD_REQUEST',
      `preprocessing channels '${pre.channels}' need a ${expected}-channel input, the model has ${channels}`,
    );
  }
  const [min, max] = pre.range;
  const pick = (v: number[], c: number, name: string): number => {
    if (v.length !== 1 && v.length !== channels) {
      throw new LoupeError('BAD_REQUEST', `preprocessing ${name} has ${v.length} values; expected 1 or ${channels}`);
    }
    return v.length === 1 ? v[0]! : v[c]!;
  };
  const scale: number[] = [];
  const offset: number[] = [];
  for (let c = 0; c < channels; c++) {
    const mean = pick(pre.mean, c, 'mean');
    const std = pick(pre.std, c, 'std');
    scale.push((max - min) / 255 / std);
    offset.push((min - mean) / std);
  }
  return { scale, offset };
}
