/**
 * Procedural "shapes" dataset: one flat-coloured shape on a textured background.
 * Everything is drawn from a seeded PRNG, so a seed always gives the same images.
 * Colours and textures are drawn independently of the class, so only the outline tells the class.
 */
import { insideShape as insideNamedShape, type ShapeName } from '../../src/engine/dissection/probe/shapes';
import { mulberry32 } from '../../src/engine/random';

/** The demo's classes; the drawing code also knows 'star' and 'heart' (harder to tell apart at 64 px). */
export const CLASSES: readonly string[] = ['circle', 'square', 'triangle', 'cross'];

export interface ShapeScene {
  label: number;
  /** Centre and radius in units of the image side (0..1). */
  cx: number;
  cy: number;
  radius: number;
  rotation: number;
  color: [number, number, number];
}

export interface ShapesData {
  images: Uint8Array[]; // RGBA, size*size*4
  masks: Uint8Array[]; // size*size, 1 where the object is drawn
  labels: number[];
  classes: string[];
  scenes: ShapeScene[];
}

export { mulberry32 };

type Rgb = [number, number, number];

function hsvToRgb(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6]!;
  return [Math.round(r! * 255), Math.round(g! * 255), Math.round(b! * 255)];
}

function randomColor(rand: () => number): Rgb {
  return hsvToRgb(rand(), 0.2 + 0.8 * rand(), 0.25 + 0.75 * rand());
}

function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** Is the point (u, v), in the shape's own frame where the shape fits the unit disc, inside? */
function insideShape(label: number, u: number, v: number): boolean {
  return insideNamedShape(CLASSES[label] as ShapeName, u, v);
}

type Texture = (x: number, y: number) => Rgb; // x, y in 0..1

function makeTexture(rand: () => number, avoid: Rgb): Texture {
  // Background colours must differ enough from the object's colour for the shape to be visible.
  const pick = (): Rgb => {
    for (;;) {
      const c = randomColor(rand);
      if (distance(c, avoid) > 90) return c;
    }
  };
  const c1 = pick();
  // The texture's second colour sits a third of the way from the first to another background colour:
  // textures stay visible but weaker than the object's outline, which is what the classes differ by.
  const far = pick();
  const c2 = [0, 1, 2].map((i) => c1[i]! + (far[i]! - c1[i]!) * 0.35) as Rgb;
  const mix = (t: number): Rgb => [0, 1, 2].map((i) => Math.round(c1[i]! + (c2[i]! - c1[i]!) * t)) as Rgb;
  // Mostly smooth value noise and gradients; stripes and checkers (edges everywhere) are rarer.
  const r = rand();
  const kind = r < 0.4 ? 0 : r < 0.7 ? 2 : r < 0.85 ? 1 : 3;
  if (kind === 0) {
    // Value noise on a coarse lattice, smoothly interpolated (resolution independent).
    const n = 4 + Math.floor(rand() * 8);
    const grid = Array.from({ length: (n + 1) * (n + 1) }, () => rand());
    return (x, y) => {
      const gx = x * n;
      const gy = y * n;
      const ix = Math.min(Math.floor(gx), n - 1);
      const iy = Math.min(Math.floor(gy), n - 1);
      const fx = gx - ix;
      const fy = gy - iy;
      const sx = fx * fx * (3 - 2 * fx);
      const sy = fy * fy * (3 - 2 * fy);
      const g = (i: number, j: number): number => grid[j * (n + 1) + i]!;
      const top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * sx;
      const bottom = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * sx;
      return mix(top + (bottom - top) * sy);
    };
  }
  if (kind === 1) {
    const angle = rand() * Math.PI;
    const period = 0.05 + rand() * 0.2;
    const soft = rand() < 0.5;
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    return (x, y) => {
      const phase = ((x * dx + y * dy) / period) % 1;
      const p = phase < 0 ? phase + 1 : phase;
      return mix(soft ? 0.5 + 0.5 * Math.sin(p * 2 * Math.PI) : p < 0.5 ? 0 : 1);
    };
  }
  if (kind === 2) {
    const angle = rand() * 2 * Math.PI;
    const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
    return (x, y) => mix(Math.min(1, Math.max(0, 0.5 + ((x - 0.5) * dx + (y - 0.5) * dy))));
  }
  const cell = 0.06 + rand() * 0.15;
  return (x, y) => mix((Math.floor(x / cell) + Math.floor(y / cell)) % 2);
}

/**
 * Generates `count` scenes. The scene parameters do not depend on `size`, so the same seed at
 * size 256 renders the same scenes as at 64, only sharper (per-pixel grain aside).
 */
export function generateShapes(options: { count: number; seed: number; size?: number }): ShapesData {
  const { count, seed, size = 64 } = options;
  const rand = mulberry32(seed);
  const data: ShapesData = { images: [], masks: [], labels: [], classes: [...CLASSES], scenes: [] };
  for (let n = 0; n < count; n++) {
    const label = Math.floor(rand() * CLASSES.length);
    // Object spans 28-56 % of the side: radius 0.14-0.28 of the side.
    const radius = 0.14 + rand() * 0.14;
    const cx = radius + rand() * (1 - 2 * radius);
    const cy = radius + rand() * (1 - 2 * radius);
    // Mild rotation (±17°): shapes stay recognisable at 64 px, and a small network learns them in minutes.
    const rotation = (rand() - 0.5) * 0.6;
    const color = randomColor(rand);
    const texture = makeTexture(rand, color);
    const grain = mulberry32(Math.floor(rand() * 2 ** 32));
    const grainAmount = rand() * 24;

    const image = new Uint8Array(size * size * 4);
    const mask = new Uint8Array(size * size);
    const cos = Math.cos(rotation);
    const sin = Math.sin(rotation);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const px = (x + 0.5) / size;
        const py = (y + 0.5) / size;
        const du = (px - cx) / radius;
        const dv = (py - cy) / radius;
        const u = cos * du + sin * dv;
        const v = -sin * du + cos * dv;
        const i = y * size + x;
        const noise = (grain() - 0.5) * grainAmount;
        let rgb: Rgb;
        if (u * u + v * v <= 1.2 && insideShape(label, u, v)) {
          mask[i] = 1;
          rgb = color;
        } else {
          rgb = texture(px, py).map((c) => Math.min(255, Math.max(0, Math.round(c + noise)))) as Rgb;
        }
        image[i * 4] = rgb[0];
        image[i * 4 + 1] = rgb[1];
        image[i * 4 + 2] = rgb[2];
        image[i * 4 + 3] = 255;
      }
    }
    data.images.push(image);
    data.masks.push(mask);
    data.labels.push(label);
    data.scenes.push({ label, cx, cy, radius, rotation, color });
  }
  return data;
}

/** RGBA bytes -> float RGB in [-1, 1] (the range loupe.json declares), for a batch. */
export function toModelInput(images: Uint8Array[], size: number): Float32Array {
  const out = new Float32Array(images.length * size * size * 3);
  let o = 0;
  for (const img of images) {
    for (let i = 0; i < size * size; i++) {
      out[o++] = img[i * 4]! / 127.5 - 1;
      out[o++] = img[i * 4 + 1]! / 127.5 - 1;
      out[o++] = img[i * 4 + 2]! / 127.5 - 1;
    }
  }
  return out;
}
