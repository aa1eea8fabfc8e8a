/**
 * The built-in probe set: procedurally drawn scenes labelled per pixel with Broden's 11 colour names,
 * 8 textures and 8 shapes. A seed and an index always give the same image, so any image can be
 * re-drawn later (the top images of a unit) without storing the set.
 */
import { LoupeError } from '../../../protocol/errors';
import { itemSeed, mulberry32 } from '../../random';
import { insideShape, type ShapeName } from './shapes';
import type { Concept, ProbeDataset, ProbeSample } from './types';

export type Rgb = readonly [number, number, number];

/** Broden's colour names with a prototype RGB each. */
export const PROBE_COLORS: readonly { name: string; rgb: Rgb }[] = [
  { name: 'black', rgb: [20, 20, 20] },
  { name: 'blue', rgb: [30, 60, 210] },
  { name: 'brown', rgb: [120, 70, 30] },
  { name: 'green', rgb: [40, 160, 50] },
  { name: 'grey', rgb: [128, 128, 128] },
  { name: 'orange', rgb: [245, 135, 20] },
  { name: 'pink', rgb: [245, 150, 190] },
  { name: 'purple', rgb: [125, 40, 160] },
  { name: 'red', rgb: [210, 25, 25] },
  { name: 'white', rgb: [240, 240, 240] },
  { name: 'yellow', rgb: [240, 220, 30] },
];

export const PROBE_TEXTURES = [
  'horizontal stripes', 'vertical stripes', 'diagonal stripes', 'antidiagonal stripes',
  'dots', 'checkerboard', 'zigzag', 'grid',
] as const;
export type TextureName = (typeof PROBE_TEXTURES)[number];

export const PROBE_SHAPES: readonly ShapeName[] = ['circle', 'square', 'triangle', 'star', 'heart', 'cross', 'hexagon', 'diamond'];

/** Part of every cached result's key: bump it whenever a seed would draw a different image. */
const GENERATOR_VERSION = 'v3';

export const PROBE_CATEGORIES = ['color', 'texture', 'shape'] as const;

export interface BuiltinProbeOptions {
  count: number;
  size: number;
  seed: number;
}

export const BUILTIN_PROBE_DEFAULTS: Readonly<BuiltinProbeOptions> = Object.freeze({ count: 1000, size: 112, seed: 1 });

const COLOR_ID = (i: number) => 1 + i;
const TEXTURE_ID = (i: number) => 1 + PROBE_COLORS.length + i;
const SHAPE_ID = (i: number) => 1 + PROBE_COLORS.length + PROBE_TEXTURES.length + i;

export function builtinConcepts(): Concept[] {
  return [
    { name: '-', category: '' },
    ...PROBE_COLORS.map((c) => ({ name: c.name, category: 'color' })),
    ...PROBE_TEXTURES.map((name) => ({ name, category: 'texture' })),
    ...PROBE_SHAPES.map((name) => ({ name, category: 'shape' })),
  ];
}

export function builtinProbe(options: Partial<BuiltinProbeOptions> = {}): ProbeDataset {
  const { count, size, seed } = { ...BUILTIN_PROBE_DEFAULTS, ...options };
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new LoupeError('BAD_REQUEST', `probe image count ${count} must be an integer from 1 to 1,000,000`);
  }
  if (!Number.isInteger(size) || size < 16 || size > 1024) {
    throw new LoupeError('BAD_REQUEST', `probe image size ${size} must be an integer from 16 to 1024 pixels`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new LoupeError('BAD_REQUEST', `probe seed ${seed} must be a non-negative integer`);
  return {
    kind: 'builtin',
    name: `built-in (${count} images, ${size}×${size}, seed ${seed})`,
    identity: `builtin/${GENERATOR_VERSION}/${count}/${size}/${seed}`,
    categories: PROBE_CATEGORIES,
    concepts: builtinConcepts(),
    length: count,
    sample: async (index) => drawScene(size, itemSeed(seed, index)),
  };
}

/** A texture: 1 where the pattern's second colour is, at pixel (x, y). */
export type Pattern = (x: number, y: number) => boolean;

export function pattern(name: TextureName, rand: () => number, size: number): Pattern {
  const period = Math.max(4, Math.round(size * (0.07 + rand() * 0.07)));
  const half = period / 2;
  const phase = Math.floor(rand() * period);
  const mod = (a: number) => ((a % period) + period) % period;
  switch (name) {
    case 'horizontal stripes':
      return (_x, y) => mod(y + phase) < half;
    case 'vertical stripes':
      return (x) => mod(x + phase) < half;
    // Measured across the stripes, so every orientation has the same period and half-and-half duty.
    case 'diagonal stripes':
      return (x, y) => mod((x + y) / Math.SQRT2 + phase) < half;
    case 'antidiagonal stripes':
      return (x, y) => mod((x - y) / Math.SQRT2 + phase) < half;
    case 'dots': {
      const r2 = (period * 0.28) ** 2;
      return (x, y) => (mod(x + phase) - half) ** 2 + (mod(y + phase) - half) ** 2 <= r2;
    }
    case 'checkerboard':
      return (x, y) => (Math.floor((x + phase) / half) + Math.floor((y + phase) / half)) % 2 === 0;
    case 'zigzag': {
      const amp = period * 0.6;
      return (x, y) => {
        const t = mod(x + phase) / period; // triangle wave along x shifts the stripes up and down
        return mod(y + amp * (t < 0.5 ? 2 * t : 2 - 2 * t)) < half;
      };
    }
    case 'grid': {
      const line = Math.max(1, Math.round(period / 4));
      return (x, y) => mod(x + phase) < line || mod(y + phase) < line;
    }
  }
}

/**
 * How often each colour is a scene's background: skewed towards neutral colours as in natural
 * scenes (and Broden), so vivid colours cover a few percent of the probe set rather than 1/11 each.
 */
const BACKGROUND_WEIGHTS: Record<string, number> = {
  black: 3, blue: 1, brown: 3, green: 1, grey: 4, orange: 0.5, pink: 0.5, purple: 0.5, red: 0.5, white: 4, yellow: 0.5,
};

function pickBackground(rand: () => number): number {
  const weights = PROBE_COLORS.map((c) => BACKGROUND_WEIGHTS[c.name]!);
  let r = rand() * weights.reduce((a, b) => a + b, 0);
  for (const [i, w] of weights.entries()) if ((r -= w) < 0) return i;
  return weights.length - 1;
}

export function pickColor(rand: () => number, avoid: number[]): number {
  for (;;) {
    const c = Math.floor(rand() * PROBE_COLORS.length);
    if (!avoid.includes(c)) return c;
  }
}

/** A colour's prototype with a per-image jitter, so colour names cover a neighbourhood, not one RGB. */
export function jittered(color: number, rand: () => number): Rgb {
  const [r, g, b] = PROBE_COLORS[color]!.rgb;
  const j = () => (rand() - 0.5) * 30;
  const shift = j();
  return [r + shift + j() * 0.5, g + shift + j() * 0.5, b + shift + j() * 0.5];
}

interface Region {
  /** Which pixels belong to the region; absent: the whole image. */
  contains?: (x: number, y: number) => boolean;
  base: number;
  baseRgb: Rgb;
  /** Absent: a flat region. */
  texture?: { id: number; pattern: Pattern; color: number; rgb: Rgb };
}

function paint(data: Float32Array, i: number, rgb: Rgb): void {
  data[i * 4] = rgb[0];
  data[i * 4 + 1] = rgb[1];
  data[i * 4 + 2] = rgb[2];
  data[i * 4 + 3] = 255;
}

/**
 * One scene: a flat background, one or two textured patches, then one or two flat-coloured shapes.
 * Textures and shapes cover a part of each image, not all of it, as concepts do in Broden: a
 * unit's top-quantile mask (0.5% of the pixels) can only reach a high IoU with a concept that
 * covers a few percent of the probe set.
 */
export function drawScene(size: number, seed: number): ProbeSample {
  const rand = mulberry32(seed);
  const background = pickBackground(rand);
  const regions: Region[] = [{ base: background, baseRgb: jittered(background, rand) }];
  const patches = rand() < 0.5 ? 1 : 2;
  for (let k = 0; k < patches; k++) {
    const w = Math.round(size * (0.3 + rand() * 0.35));
    const h = Math.round(size * (0.3 + rand() * 0.35));
    const x0 = Math.floor(rand() * (size - w));
    const y0 = Math.floor(rand() * (size - h));
    const base = pickColor(rand, [background]);
    const t = Math.floor(rand() * PROBE_TEXTURES.length);
    const color = pickColor(rand, [base]);
    regions.push({
      contains: (x, y) => x >= x0 && x < x0 + w && y >= y0 && y < y0 + h,
      base, baseRgb: jittered(base, rand),
      texture: { id: TEXTURE_ID(t), pattern: pattern(PROBE_TEXTURES[t]!, rand, size), color, rgb: jittered(color, rand) },
    });
  }
  const shapes = Array.from({ length: rand() < 0.7 ? 1 : 2 }, () => {
    const radius = size * (0.13 + rand() * 0.15);
    const rotation = rand() * 2 * Math.PI;
    const color = Math.floor(rand() * PROBE_COLORS.length);
    const s = Math.floor(rand() * PROBE_SHAPES.length);
    return {
      shape: PROBE_SHAPES[s]!, id: SHAPE_ID(s), color, rgb: jittered(color, rand), radius,
      cx: radius + rand() * (size - 2 * radius), cy: radius + rand() * (size - 2 * radius),
      cos: Math.cos(rotation), sin: Math.sin(rotation),
    };
  });
  const grain = mulberry32(Math.floor(rand() * 2 ** 32));
  const n = size * size;
  const data = new Float32Array(n * 4);
  const colorPlane = new Uint16Array(n);
  const texturePlane = new Uint16Array(n);
  const shapePlane = new Uint16Array(n);
  // Background first, then each shape inside its bounding box: most pixels never test a shape.
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      let region = regions[0]!;
      for (let k = regions.length - 1; k > 0; k--) if (regions[k]!.contains!(x, y)) { region = regions[k]!; break; }
      const tex = region.texture;
      const second = tex ? tex.pattern(x, y) : false;
      if (tex) texturePlane[i] = tex.id;
      paint(data, i, second ? tex!.rgb : region.baseRgb);
      colorPlane[i] = COLOR_ID(second ? tex!.color : region.base);
    }
  }
  for (const s of shapes) {
    // Every outline lies within 1.1 radii of its centre (the heart reaches 1.05).
    const reach = 1.1 * s.radius;
    const lo = (c: number) => Math.max(0, Math.floor(c - reach));
    const hi = (c: number) => Math.min(size - 1, Math.ceil(c + reach));
    for (let y = lo(s.cy); y <= hi(s.cy); y++) {
      for (let x = lo(s.cx); x <= hi(s.cx); x++) {
        const du = (x + 0.5 - s.cx) / s.radius;
        const dv = (y + 0.5 - s.cy) / s.radius;
        if (du * du + dv * dv > 1.21 || !insideShape(s.shape, s.cos * du + s.sin * dv, -s.sin * du + s.cos * dv)) continue;
        const i = y * size + x;
        paint(data, i, s.rgb);
        colorPlane[i] = COLOR_ID(s.color);
        shapePlane[i] = s.id;
        texturePlane[i] = 0;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const noise = (grain() - 0.5) * 12;
    for (let c = 0; c < 3; c++) data[i * 4 + c] = Math.min(255, Math.max(0, Math.round(data[i * 4 + c]! + noise)));
  }
  return {
    image: { width: size, height: size, data },
    segmentation: {
      width: size, height: size, planes: [colorPlane, texturePlane, shapePlane], imageLabels: [], categories: [0, 1, 2],
    },
  };
}
