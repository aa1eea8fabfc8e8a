import { interpolateInferno, interpolateRdBu } from 'd3-scale-chromatic';

/**
 * Colour lookup tables, built once from d3-scale-chromatic:
 * - SEQUENTIAL_LUT (inferno, 256 entries) for magnitudes: 0 is near-black, the maximum pale yellow;
 *   perceptually uniform with monotone lightness.
 * - DIVERGING_LUT (RdBu reversed, 257 entries so 0 sits exactly on the middle entry 128) for signed
 *   maps: negative blue, zero near-white, positive red.
 * Each entry is [r, g, b] in 0..255.
 */
export const SEQUENTIAL_LUT: ReadonlyArray<readonly [number, number, number]> = buildLut(256, interpolateInferno);
export const DIVERGING_LUT: ReadonlyArray<readonly [number, number, number]> = buildLut(257, (t) => interpolateRdBu(1 - t));
const MID = 128;

/** The 99.5th percentile of |v| sets full colour; the brightest 0.5 % are clipped, not let to wash out the rest. */
export const CLIP_PERCENTILE = 0.995;

/**
 * Colours a map, RGBA (alpha 255) per value.
 * Magnitude maps: t = v / s clipped to [0, 1] (negative values show as 0), s = 99.5th percentile of |v|.
 * Signed maps: symmetric around 0, v / s clipped to [−1, 1], so v and −v get mirrored LUT entries.
 * Non-finite values count as 0; an all-zero map is uniformly the colormap's zero colour.
 */
export function colorizeMap(values: Float32Array, signed: boolean): Uint8Array {
  const s = clipScale(values);
  const inv = s > 0 ? 1 / s : 0;
  const out = new Uint8Array(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const u = Number.isFinite(v) ? Math.max(-1, Math.min(1, v * inv)) : 0;
    let rgb: readonly [number, number, number];
    if (signed) {
      // Rounding |u| keeps the index exactly mirrored for v and −v.
      rgb = DIVERGING_LUT[MID + Math.sign(u) * Math.round(Math.abs(u) * MID)]!;
    } else {
      rgb = SEQUENTIAL_LUT[Math.round(Math.max(u, 0) * 255)]!;
    }
    out[i * 4] = rgb[0];
    out[i * 4 + 1] = rgb[1];
    out[i * 4 + 2] = rgb[2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

/**
 * The value that gets full colour: the 99.5th percentile of |v| (linear interpolation between
 * order statistics, numpy's default), or max |v| when that percentile is 0 but the map is not
 * (very sparse maps); 0 for an all-zero map.
 */
export function clipScale(values: Float32Array): number {
  const abs = new Float32Array(values.length);
  let n = 0;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]!);
    if (Number.isFinite(a)) {
      abs[n++] = a;
      if (a > max) max = a;
    }
  }
  if (n === 0 || max === 0) return 0;
  const sorted = abs.subarray(0, n).sort();
  const pos = CLIP_PERCENTILE * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const p = sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  return p > 0 ? p : max;
}

function buildLut(size: number, interpolate: (t: number) => string): Array<readonly [number, number, number]> {
  return Array.from({ length: size }, (_, i) => parseColor(interpolate(i / (size - 1))));
}

/** d3-scale-chromatic returns "#rrggbb" (inferno) or "rgb(r, g, b)" (RdBu). */
function parseColor(css: string): readonly [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  const rgb = /^rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\s*\)$/.exec(css);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`colormap: unexpected colour string ${css}`);
}
