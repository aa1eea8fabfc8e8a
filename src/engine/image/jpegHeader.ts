import type { RgbaImage } from '../types';

/** What Loupe needs from a JPEG before decoding it: frame size and EXIF orientation. */
export interface JpegHeader {
  frame?: { width: number; height: number; progressive: boolean };
  /** EXIF orientation 1–8 (1 when absent or unreadable). */
  orientation: number;
  /** Why no frame was found, for the error message. */
  problem?: string;
}

/**
 * Walks the JPEG marker segments up to the first scan. Sync and allocation-free, so the size can
 * be checked before jpeg-js allocates, and decodeImage stays synchronous (exifr is async-only).
 */
export function readJpegHeader(b: Uint8Array): JpegHeader {
  const out: JpegHeader = { orientation: 1 };
  let pos = 2; // after SOI
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) {
      out.problem = `expected a marker at byte ${pos}`;
      return out;
    }
    const marker = b[pos + 1]!;
    if (marker === 0xff) { pos++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { pos += 2; continue; } // no length
    if (marker === 0xd9 || marker === 0xda) break; // EOI / start of scan: the header is over
    const len = (b[pos + 2]! << 8) | b[pos + 3]!;
    const seg = pos + 4;
    const end = pos + 2 + len;
    if (len < 2 || end > b.length) {
      out.problem = `truncated marker segment at byte ${pos}`;
      return out;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && len >= 7 && !out.frame) {
      out.frame = {
        height: (b[seg + 1]! << 8) | b[seg + 2]!,
        width: (b[seg + 3]! << 8) | b[seg + 4]!,
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
      };
    }
    if (marker === 0xe1 && out.orientation === 1) out.orientation = exifOrientation(b, seg, end);
    pos = end;
  }
  if (!out.frame && !out.problem) out.problem = 'no frame header (SOF) before the image data';
  return out;
}

/** Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" segment spanning [start, end). */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  const exifId = [0x45, 0x78, 0x69, 0x66, 0, 0];
  if (end - start < 14 || exifId.some((v, i) => b[start + i] !== v)) return 1;
  const t = start + 6; // TIFF header
  const little = b[t] === 0x49 && b[t + 1] === 0x49;
  if (!little && !(b[t] === 0x4d && b[t + 1] === 0x4d)) return 1;
  const u16 = (p: number) => (little ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!);
  const u32 = (p: number) =>
    little
      ? (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 2 ** 24
      : b[p]! * 2 ** 24 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  if (u16(t + 2) !== 42) return 1;
  const ifd = t + u32(t + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) return 1;
    if (u16(e) === 0x0112) {
      const type = u16(e + 2);
      const value = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0;
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/**
 * Turns the stored pixels into the image a viewer shows for EXIF orientation 1–8
 * (the same transposes as PIL's ImageOps.exif_transpose).
 */
export function applyOrientation(img: RgbaImage, orientation: number): RgbaImage {
  if (orientation < 2 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const out = new Float32Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // (sx, sy): the stored pixel shown at (x, y).
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break; // mirror horizontally
        case 3: sx = w - 1 - x; sy = h - 1 - y; break; // rotate 180°
        case 4: sx = x; sy = h - 1 - y; break; // mirror vertically
        case 5: sx = y; sy = x; break; // transpose
        case 6: sx = y; sy = h - 1 - x; break; // rotate 90° clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break; // transverse
        default: sx = w - 1 - y; sy = x; break; // 8: rotate 90° counter-clockwise
      }
      const src = (sy * w + sx) * 4;
      const dst = (y * W + x) * 4;
      out[dst] = data[src]!;
      out[dst + 1] = data[src + 1]!;
      out[dst + 2] = data[src + 2]!;
      out[dst + 3] = data[src + 3]!;
    }
  }
  return { width: W, height: H, data: out };
}
