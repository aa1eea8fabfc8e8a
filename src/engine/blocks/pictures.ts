/** PNGs of the Building Blocks: the activation grid, and overlays of position maps on the image. */
import { PNG } from 'pngjs';
import { overlayPng } from '../output/overlay';
import type { RgbaImage } from '../types';

/** Cells [rows·cols, s, s, c] (values in [0, 1]) tiled row by row into one PNG. */
export function imageGridPng(cells: Float32Array, rows: number, cols: number, s: number, c: number): Buffer {
  const width = cols * s;
  const png = new PNG({ width, height: rows * s });
  const byte = (v: number) => Math.max(0, Math.min(255, Math.round(v * 255)));
  for (let cell = 0; cell < rows * cols; cell++) {
    const oy = Math.floor(cell / cols) * s;
    const ox = (cell % cols) * s;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const src = ((cell * s + y) * s + x) * c;
        const dst = ((oy + y) * width + ox + x) * 4;
        png.data[dst] = byte(cells[src]!);
        png.data[dst + 1] = byte(cells[src + (c === 3 ? 1 : 0)]!);
        png.data[dst + 2] = byte(cells[src + (c === 3 ? 2 : 0)]!);
        png.data[dst + 3] = 255;
      }
    }
  }
  return PNG.sync.write(png, { colorType: 6 });
}

/** A map over the layer's h × w positions, upsampled (nearest) to the picture and overlaid on it. */
export function positionOverlayPng(picture: RgbaImage, map: ArrayLike<number>, h: number, w: number, signed: boolean): Buffer {
  const display = new Float32Array(picture.width * picture.height);
  for (let y = 0; y < picture.height; y++) {
    const my = Math.min(h - 1, Math.floor((y * h) / picture.height));
    for (let x = 0; x < picture.width; x++) display[y * picture.width + x] = map[my * w + Math.min(w - 1, Math.floor((x * w) / picture.width))]!;
  }
  return overlayPng(picture, display, signed, 0.6);
}
