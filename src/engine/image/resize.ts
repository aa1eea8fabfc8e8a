import type { RgbaImage } from '../types';

/**
 * Resizes with a separable triangle filter, the way PIL's `Image.resize(..., BILINEAR)` does:
 * when shrinking by a factor s the triangle is stretched to radius s, so every source pixel
 * contributes (antialiasing); when enlarging it is plain bilinear interpolation. Pixel centres
 * are aligned (half-pixel convention). Channels, alpha included, are filtered independently.
 * Returns `img` itself when the size already matches.
 */
export function resizeImage(img: RgbaImage, width: number, height: number): RgbaImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeImage: bad target size ${width}×${height}`);
  }
  if (img.width === width && img.height === height) return img;
  const horizontal = img.width === width ? img : resample(img, width, img.height, true);
  return img.height === height ? horizontal : resample(horizontal, width, height, false);
}

interface Taps {
  /** First source index for each output index. */
  start: Int32Array;
  /** Number of taps for each output index. */
  count: Int32Array;
  /** Normalised weights, `maxTaps` per output index. */
  weights: Float64Array;
  maxTaps: number;
}

/** Filter taps mapping a line of `inSize` samples onto `outSize` (PIL's precompute_coeffs). */
export function triangleTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's radius is 1 before stretching
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.floor(center - support + 0.5), 0);
    const hi = Math.min(Math.floor(center + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j - center + 0.5) / filterScale));
      weights[i * maxTaps + (j - lo)] = w;
      total += w;
    }
    const norm = total > 0 ? 1 / total : 0;
    for (let k = 0; k < hi - lo; k++) weights[i * maxTaps + k]! *= norm;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, maxTaps };
}

function resample(img: RgbaImage, width: number, height: number, alongX: boolean): RgbaImage {
  const taps = alongX ? triangleTaps(img.width, width) : triangleTaps(img.height, height);
  const src = img.data;
  const out = new Float32Array(width * height * 4);
  const rowStride = img.width * 4;
  const step = alongX ? 4 : rowStride; // distance between neighbouring taps in the source
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = alongX ? x : y;
      const base = alongX ? y * rowStride + taps.start[i]! * 4 : taps.start[i]! * rowStride + x * 4;
      const n = taps.count[i]!;
      const w0 = i * taps.maxTaps;
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < n; k++) {
        const w = taps.weights[w0 + k]!;
        const p = base + k * step;
        r += w * src[p]!;
        g += w * src[p + 1]!;
        b += w * src[p + 2]!;
        a += w * src[p + 3]!;
      }
      const o = (y * width + x) * 4;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      out[o + 3] = a;
    }
  }
  return { width, height, data: out };
}
