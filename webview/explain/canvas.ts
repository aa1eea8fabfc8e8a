/** Drawing on canvases: the input image, maps over it, legends, and the PNG export. */
import { blend, colorize, type Lut } from './colormap';

/** Canvases of small inputs are shown at least this wide (CSS, nearest-neighbour). */
const MIN_DISPLAY = 224;

export function newCanvas(width: number, height: number, testid?: string): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  if (testid) canvas.dataset.testid = testid;
  const scale = Math.max(1, Math.floor(MIN_DISPLAY / width));
  // CSSOM assignment, not a style attribute: allowed by the panel's CSP.
  canvas.style.width = `${width * scale}px`;
  if (scale > 1) canvas.classList.add('pixelated');
  return canvas;
}

function put(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  g.putImageData(new ImageData(rgba, canvas.width, canvas.height), 0, 0);
}

export function drawImage(canvas: HTMLCanvasElement, rgba: Uint8Array): void {
  const copy = new Uint8ClampedArray(rgba.length);
  copy.set(rgba);
  put(canvas, copy);
}

export function drawOverlay(canvas: HTMLCanvasElement, image: Uint8Array, values: Float32Array, signed: boolean, lut: Lut, opacity: number): void {
  put(canvas, blend(image, colorize(values, signed, lut), opacity));
}

/** A horizontal strip of the LUT (left = lowest entry). */
export function drawLegend(canvas: HTMLCanvasElement, lut: Lut): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const { width, height } = canvas;
  const img = g.createImageData(width, height);
  for (let x = 0; x < width; x++) {
    const k = Math.round((x / Math.max(1, width - 1)) * (lut.size - 1)) * 3;
    for (let y = 0; y < height; y++) {
      const o = (y * width + x) * 4;
      img.data[o] = lut.rgb[k]!;
      img.data[o + 1] = lut.rgb[k + 1]!;
      img.data[o + 2] = lut.rgb[k + 2]!;
      img.data[o + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
}

/** The canvas upscaled (nearest) by an integer factor to at least 256 px wide, as a PNG data URL. */
export function pngDataUrl(canvas: HTMLCanvasElement): string {
  const k = Math.max(1, Math.ceil(256 / canvas.width));
  const out = document.createElement('canvas');
  out.width = canvas.width * k;
  out.height = canvas.height * k;
  const g = out.getContext('2d');
  if (!g) return canvas.toDataURL('image/png');
  g.imageSmoothingEnabled = false;
  g.drawImage(canvas, 0, 0, out.width, out.height);
  return out.toDataURL('image/png');
}
