/**
 * The probe generator's concepts drawn as whole images, for concept sets that need no data at hand
 * (TCAV): a colour fills the image, a texture covers it, a shape is as large as the image allows.
 * Each image varies (colour jitter, second colours, periods, phases, rotation, pixel grain) so a
 * concept is a neighbourhood, not one picture. A seed always draws the same image.
 */
import { itemSeed, mulberry32 } from '../../random';
import type { RgbaImage } from '../../types';
import { drawScene, jittered, pattern, pickColor, PROBE_COLORS, PROBE_SHAPES, PROBE_TEXTURES, type Rgb, type TextureName } from './builtin';
import { insideShape, type ShapeName } from './shapes';

/** Part of every cached result's key: bump it whenever a seed would draw a different image. */
export const CONCEPT_IMAGES_VERSION = 'c1';

/** The random scenes of the probe generator (a control concept, and the built-in random images). */
export const RANDOM_CONCEPT = 'random';

export const BUILTIN_CONCEPTS: readonly string[] = [
  ...PROBE_COLORS.map((c) => c.name), ...PROBE_TEXTURES, ...PROBE_SHAPES, RANDOM_CONCEPT,
];

/** `horizontal-stripes`, `Horizontal_Stripes` → `horizontal stripes`; undefined when no such concept. */
export function builtinConceptName(name: string): string | undefined {
  const normal = name.trim().toLowerCase().replace(/[-_\s]+/g, ' ');
  return BUILTIN_CONCEPTS.find((c) => c === normal);
}

function fill(size: number, colorAt: (x: number, y: number) => Rgb, grainSeed: number): RgbaImage {
  const grain = mulberry32(grainSeed);
  const data = new Float32Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const rgb = colorAt(x, y);
      const noise = (grain() - 0.5) * 12;
      for (let c = 0; c < 3; c++) data[i + c] = Math.min(255, Math.max(0, Math.round(rgb[c]! + noise)));
      data[i + 3] = 255;
    }
  }
  return { width: size, height: size, data };
}

/** Image `index` of built-in concept `name` (a name of BUILTIN_CONCEPTS), `size`×`size`. */
export function drawConceptImage(name: string, size: number, seed: number, index: number): RgbaImage {
  const itemSeedValue = itemSeed(seed, index);
  if (name === RANDOM_CONCEPT) return drawScene(size, itemSeedValue).image;
  const rand = mulberry32(itemSeedValue);
  const colour = PROBE_COLORS.findIndex((c) => c.name === name);
  if (colour >= 0) {
    // A gentle light gradient across the image: colour names cover a range of shades, as in photographs.
    const rgb = jittered(colour, rand);
    const angle = rand() * 2 * Math.PI;
    const strength = 10 + rand() * 15;
    const [dx, dy] = [Math.cos(angle) / size, Math.sin(angle) / size];
    return fill(size, (x, y) => {
      const shade = strength * ((x - size / 2) * dx + (y - size / 2) * dy);
      return [rgb[0] + shade, rgb[1] + shade, rgb[2] + shade];
    }, rand() * 2 ** 32);
  }
  if ((PROBE_TEXTURES as readonly string[]).includes(name)) {
    const base = pickColor(rand, []);
    const second = pickColor(rand, [base]);
    const [a, b] = [jittered(base, rand), jittered(second, rand)];
    const p = pattern(name as TextureName, rand, size);
    return fill(size, (x, y) => (p(x, y) ? b : a), rand() * 2 ** 32);
  }
  const shape = PROBE_SHAPES.find((s) => s === name) as ShapeName | undefined;
  if (!shape) throw new Error(`internal: '${name}' is not a built-in concept`);
  const background = pickColor(rand, []);
  const color = pickColor(rand, [background]);
  const [bg, fg] = [jittered(background, rand), jittered(color, rand)];
  // As large as fits: every outline lies within 1.1 radii of its centre (see drawScene).
  const radius = (size / 2 / 1.1) * (0.85 + rand() * 0.15);
  const cx = size / 2 + (rand() - 0.5) * (size / 2 - 1.1 * radius) * 2;
  const cy = size / 2 + (rand() - 0.5) * (size / 2 - 1.1 * radius) * 2;
  const rotation = rand() * 2 * Math.PI;
  const [cos, sin] = [Math.cos(rotation), Math.sin(rotation)];
  return fill(size, (x, y) => {
    const du = (x + 0.5 - cx) / radius;
    const dv = (y + 0.5 - cy) / radius;
    return du * du + dv * dv <= 1.21 && insideShape(shape, cos * du + sin * dv, -sin * du + cos * dv) ? fg : bg;
  }, rand() * 2 ** 32);
}
