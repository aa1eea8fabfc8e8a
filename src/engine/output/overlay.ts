import { PNG } from 'pngjs';
import { LUMA_601 } from '../image/preprocess';
import type { RgbaImage } from '../types';
import { colorizeMap } from './colormap';

/**
 * PNG of `display` (H × W, one value per pixel of `base`) coloured with colorizeMap and blended
 * over a grayscale copy of `base`: out = (1 − opacity) · gray + opacity · colour. The base is shown
 * gray so its own colours do not compete with the colormap; its alpha is composited over black,
 * as the model sees it (toModelInput).
 */
export function overlayPng(base: RgbaImage, display: Float32Array, signed: boolean, opacity = 0.5): Buffer {
  const n = base.width * base.height;
  if (display.length !== n) {
    throw new RangeError(`overlayPng: map has ${display.length} values, image ${base.width}×${base.height} has ${n} pixels`);
  }
  if (!(opacity >= 0 && opacity <= 1)) throw new RangeError(`overlayPng: opacity ${opacity} outside [0, 1]`);
  const colours = colorizeMap(display, signed);
  const png = new PNG({ width: base.width, height: base.height });
  const src = base.data;
  for (let i = 0; i < n; i++) {
    const a = src[i * 4 + 3]! / 255;
    const gray = (LUMA_601[0] * src[i * 4]! + LUMA_601[1] * src[i * 4 + 1]! + LUMA_601[2] * src[i * 4 + 2]!) * a;
    for (let k = 0; k < 3; k++) {
      png.data[i * 4 + k] = Math.round((1 - opacity) * gray + opacity * colours[i * 4 + k]!);
    }
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2 });
}

/** 8-bit RGBA PNG of an image (values rounded and clamped to 0..255). */
export function imagePng(img: RgbaImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.data.length; i++) png.data[i] = Math.max(0, Math.min(255, Math.round(img.data[i]!)));
  return PNG.sync.write(png, { colorType: 6 });
}
