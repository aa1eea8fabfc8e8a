import { PNG } from 'pngjs';

/** Gap between images of a strip, in pixels (transparent). */
const GAP = 2;

/**
 * PNG of images [n, h, w, c] with values in [0, 1] (c = 1 gray, 3 rgb; others show their first channel),
 * side by side when `index` is undefined, else the one image.
 */
export function imageStripPng(images: Float32Array, n: number, h: number, w: number, c: number, index?: number): Buffer {
  const picked = index === undefined ? [...Array(n).keys()] : [index];
  const width = picked.length * w + (picked.length - 1) * GAP;
  const png = new PNG({ width, height: h });
  png.data.fill(0);
  const byte = (v: number) => Math.max(0, Math.min(255, Math.round(v * 255)));
  picked.forEach((b, slot) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((b * h + y) * w + x) * c;
        const dst = (y * width + slot * (w + GAP) + x) * 4;
        const r = images[src]!;
        png.data[dst] = byte(r);
        png.data[dst + 1] = byte(c === 3 ? images[src + 1]! : r);
        png.data[dst + 2] = byte(c === 3 ? images[src + 2]! : r);
        png.data[dst + 3] = 255;
      }
    }
  });
  return PNG.sync.write(png, { colorType: 6 });
}
