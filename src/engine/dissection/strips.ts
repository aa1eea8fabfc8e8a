/**
 * Pictures of what a unit detects: its top probe images side by side, the area outside the unit's
 * mask (its map upsampled and thresholded at T_k) darkened and the mask's edge drawn in white, as
 * NetDissect's reports show them.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { throwIfAborted } from '../../protocol/errors';
import type { RgbaImage } from '../types';
import type { DissectionComputation } from './dissect';
import type { ProbeDataset } from './probe/types';
import { unitMask } from './tally';

/** Tiles are drawn at the probe image's size, capped so a strip of 8 stays a small file. */
const MAX_TILE = 128;
const GAP = 2;

export function stripFileName(unit: number): string {
  return `units/unit_${String(unit).padStart(4, '0')}.png`;
}

function tileImage(img: RgbaImage, size: number): Uint8Array {
  // Nearest sampling is enough for thumbnails and keeps label edges crisp.
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / size));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / size));
      const s = (sy * img.width + sx) * 4;
      const a = img.data[s + 3]! / 255;
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = Math.round(img.data[s + c]! * a);
    }
  }
  return out;
}

/** Writes one PNG per unit under `dir`; images are drawn once each, however many units share them. */
export async function writeStrips(dir: string, probe: ProbeDataset, computation: DissectionComputation,
  signal?: AbortSignal, onProgress?: (fraction: number) => void): Promise<void> {
  const [h, w] = computation.layerShape;
  const uses = new Map<number, { u: number; slot: number }[]>();
  computation.top.forEach((list, u) => list.forEach((t, slot) => {
    if (!uses.has(t.image)) uses.set(t.image, []);
    uses.get(t.image)!.push({ u, slot });
  }));
  const remaining = computation.top.map((list) => list.length);
  const strips = new Map<number, PNG>();
  let size = 0;
  await fs.mkdir(path.join(dir, 'units'), { recursive: true });
  const images = [...uses.keys()].sort((a, b) => a - b);
  for (const [n, index] of images.entries()) {
    throwIfAborted(signal);
    const { image } = await probe.sample(index);
    size ||= Math.min(MAX_TILE, Math.max(image.width, image.height));
    const tile = tileImage(image, size);
    for (const { u, slot } of uses.get(index)!) {
      const count = computation.top[u]!.length;
      let png = strips.get(u);
      if (!png) {
        png = new PNG({ width: count * size + (count - 1) * GAP, height: size, colorType: 2 });
        png.data.fill(255);
        strips.set(u, png);
      }
      const t = computation.top[u]![slot]!;
      const mask = unitMask({ values: t.map, offset: 0, stride: 1, height: h, width: w }, computation.thresholds[u]!, size, size);
      const x0 = slot * (size + GAP);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const p = y * size + x;
          const inside = mask[p] === 1;
          const edge = inside && (x === 0 || y === 0 || x === size - 1 || y === size - 1 ||
            !mask[p - 1] || !mask[p + 1] || !mask[p - size] || !mask[p + size]);
          const o = (y * png.width + x0 + x) * 4;
          for (let c = 0; c < 3; c++) png.data[o + c] = edge ? 255 : inside ? tile[p * 3 + c]! : Math.round(tile[p * 3 + c]! * 0.3);
          png.data[o + 3] = 255;
        }
      }
      if (--remaining[u]! === 0) {
        await fs.writeFile(path.join(dir, stripFileName(computation.channels[u]!)), PNG.sync.write(png, { colorType: 2, inputColorType: 6, deflateLevel: 4, filterType: 1 }));
        strips.delete(u);
      }
    }
    onProgress?.((n + 1) / images.length);
  }
}
