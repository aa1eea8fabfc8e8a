/**
 * Colour lookup tables and map colouring for the panel. No DOM: the Node tests import it.
 * The scaling matches the engine's overlay PNGs (src/engine/output/colormap.ts) so the panel and
 * the exported files agree: full colour at the 99.5th percentile of |v|.
 */
import {
  interpolateBrBG,
  interpolateGreys,
  interpolateInferno,
  interpolateMagma,
  interpolatePiYG,
  interpolatePlasma,
  interpolatePuOr,
  interpolateRdBu,
  interpolateTurbo,
  interpolateViridis,
} from 'd3-scale-chromatic';
import type { DivergingColormap, SequentialColormap } from '../../src/protocol/webview';

/** r, g, b per entry, 0..255. */
export interface Lut {
  size: number;
  rgb: Uint8Array;
}

const SEQUENTIAL: Record<SequentialColormap, (t: number) => string> = {
  inferno: interpolateInferno,
  viridis: interpolateViridis,
  magma: interpolateMagma,
  plasma: interpolatePlasma,
  turbo: interpolateTurbo,
  // d3's Greys runs white → black; magnitudes read best dark → light like the others.
  greys: (t) => interpolateGreys(1 - t),
};

/** d3's diverging schemes start at their warm end; reversed so that positive values get the warm colour. */
const DIVERGING: Record<DivergingColormap, (t: number) => string> = {
  RdBu: (t) => interpolateRdBu(1 - t),
  PiYG: (t) => interpolatePiYG(1 - t),
  PuOr: (t) => interpolatePuOr(1 - t),
  BrBG: (t) => interpolateBrBG(1 - t),
};

/** 256 entries: entry 0 for 0, entry 255 for the clip value. */
export const SEQUENTIAL_SIZE = 256;
/** 257 entries so that 0 sits exactly on the middle entry (128). */
export const DIVERGING_SIZE = 257;

export function sequentialLut(name: SequentialColormap): Lut {
  return buildLut(SEQUENTIAL_SIZE, SEQUENTIAL[name]);
}

export function divergingLut(name: DivergingColormap): Lut {
  return buildLut(DIVERGING_SIZE, DIVERGING[name]);
}

function buildLut(size: number, interpolate: (t: number) => string): Lut {
  const rgb = new Uint8Array(size * 3);
  for (let i = 0; i < size; i++) rgb.set(parseColor(interpolate(i / (size - 1))), i * 3);
  return { size, rgb };
}

/** d3-scale-chromatic returns "#rrggbb" or "rgb(r, g, b)". */
export function parseColor(css: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  const rgb = /^rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\s*\)$/.exec(css);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`colormap: unexpected colour ${css}`);
}

/** The value that gets full colour: the 99.5th percentile of finite |v| (max |v| if that is 0); 0 for an all-zero map. */
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
  const pos = 0.995 * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const p = sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  return p > 0 ? p : max;
}

/**
 * The LUT entry of each value.
 * Magnitude maps: round(clamp(v / s, 0, 1) · 255). Signed maps: 128 + sign(u) · round(|u| · 128),
 * u = clamp(v / s, −1, 1), so v and −v land on mirrored entries. Non-finite values count as 0.
 */
export function lutIndices(values: Float32Array, signed: boolean, scale = clipScale(values)): Uint16Array {
  const inv = scale > 0 ? 1 / scale : 0;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const u = Number.isFinite(v) ? Math.max(-1, Math.min(1, v * inv)) : 0;
    out[i] = signed ? 128 + Math.sign(u) * Math.round(Math.abs(u) * 128) : Math.round(Math.max(u, 0) * 255);
  }
  return out;
}

/** Colours a map: RGBA, alpha 255. */
export function colorize(values: Float32Array, signed: boolean, lut: Lut): Uint8ClampedArray<ArrayBuffer> {
  const idx = lutIndices(values, signed);
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < idx.length; i++) {
    const k = Math.min(idx[i]!, lut.size - 1) * 3;
    out[i * 4] = lut.rgb[k]!;
    out[i * 4 + 1] = lut.rgb[k + 1]!;
    out[i * 4 + 2] = lut.rgb[k + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** (1 − opacity) · image + opacity · colour per channel, alpha 255. Both RGBA of the same size. */
export function blend(image: Uint8Array | Uint8ClampedArray, colour: Uint8ClampedArray, opacity: number): Uint8ClampedArray<ArrayBuffer> {
  if (image.length !== colour.length) throw new RangeError(`blend: image has ${image.length} bytes, map ${colour.length}`);
  const a = Math.max(0, Math.min(1, opacity));
  const out = new Uint8ClampedArray(image.length);
  for (let i = 0; i < image.length; i += 4) {
    for (let c = 0; c < 3; c++) out[i + c] = Math.round((1 - a) * image[i + c]! + a * colour[i + c]!);
    out[i + 3] = 255;
  }
  return out;
}
