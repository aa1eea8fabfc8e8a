import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { LoupeError } from '../../protocol/errors';
import { readUntrusted } from '../io/untrusted';
import type { RgbaImage } from '../types';
import { applyOrientation, readJpegHeader } from './jpegHeader';
import { pngStructureProblem } from './pngChunks';

export interface DecodeOptions {
  /** Largest width × height accepted; checked from the file header before any pixel is decoded. */
  maxPixels: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CONVERT_HINT = 'convert it to PNG or JPEG';

/**
 * Decodes a PNG or JPEG held in memory into float RGBA in [0, 255].
 * PNG: every bit depth and colour type pngjs reads; 16-bit samples keep their precision.
 * JPEG: baseline and progressive, with the EXIF orientation applied (the image as a viewer shows it).
 * `file` only names the source in error messages.
 */
export function decodeImage(bytes: Buffer, file: string, opts: DecodeOptions): RgbaImage {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return decodePng(bytes, file, opts);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return decodeJpeg(bytes, file, opts);
  }
  const known = otherFormat(bytes);
  throw new LoupeError(
    'IMAGE_INVALID',
    known ? `${known} images are not supported` : `not a PNG or JPEG image (starts with ${describeStart(bytes)})`,
    file,
    CONVERT_HINT,
  );
}

/**
 * Reads and decodes an image file (a regular file; inside `inside` after symlinks when given, as for a
 * dataset's images). The file size is checked before reading so a huge file is refused without being
 * loaded (see maxFileBytes).
 */
export async function readImageFile(file: string, opts: DecodeOptions, inside?: string): Promise<RgbaImage> {
  const bytes = readUntrusted(file, {
    ...(inside !== undefined ? { inside } : {}),
    maxBytes: maxFileBytes(opts.maxPixels), what: 'image file', missingCode: 'IMAGE_NOT_FOUND', invalidCode: 'IMAGE_INVALID',
    missingHint: 'check the path', tooLarge: { code: 'IMAGE_TOO_LARGE', hint: `no image of at most ${opts.maxPixels} pixels needs more: downscale the image first` },
  });
  return decodeImage(bytes, path.resolve(file), opts);
}

/**
 * Upper bound on the file size of an acceptable image: an uncompressed 16-bit RGBA PNG stores
 * 8 bytes per pixel (deflate's stored blocks add < 0.1 %); JPEG needs far less. The extra
 * 16 MiB leaves room for metadata (ICC profiles, EXIF thumbnails, text chunks).
 */
export function maxFileBytes(maxPixels: number): number {
  return Math.ceil(maxPixels * 8 * 1.001) + 16 * 1024 * 1024;
}

// ---------------------------------------------------------------------------------------------
// PNG

function decodePng(bytes: Buffer, file: string, opts: DecodeOptions): RgbaImage {
  // IHDR must be the first chunk: length 13 at byte 8, type at 12, width at 16, height at 20.
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new LoupeError('IMAGE_INVALID', 'corrupt PNG: missing IHDR header', file, CONVERT_HINT);
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  checkDimensions(width, height, file, opts);
  const problem = pngStructureProblem(bytes);
  if (problem) throw new LoupeError('IMAGE_INVALID', `corrupt PNG: ${problem}`, file, 're-export the image');

  let png: ReturnType<typeof PNG.sync.read>;
  try {
    // skipRescale keeps 16-bit (and 1/2/4-bit) samples at their own depth; we scale to float below.
    png = PNG.sync.read(bytes, { skipRescale: true, checkCRC: true });
  } catch (err) {
    throw new LoupeError('IMAGE_INVALID', `corrupt PNG: ${reason(err)}`, file, 're-export the image');
  }
  const raw = png.data as unknown as ArrayLike<number>;
  // Palette images are expanded from 8-bit palette entries whatever their index depth.
  const maxSample = (png.colorType as number) === 3 ? 255 : 2 ** png.depth - 1;
  const n = width * height * 4;
  if (raw.length !== n) {
    throw new LoupeError('IMAGE_INVALID', 'corrupt PNG: pixel data does not match the header', file, 're-export the image');
  }
  const data = new Float32Array(n);
  if (maxSample === 255) {
    for (let i = 0; i < n; i++) data[i] = raw[i]!;
  } else {
    const k = 255 / maxSample;
    for (let i = 0; i < n; i++) data[i] = raw[i]! * k;
  }
  return { width, height, data };
}

// ---------------------------------------------------------------------------------------------
// JPEG

function decodeJpeg(bytes: Buffer, file: string, opts: DecodeOptions): RgbaImage {
  const header = readJpegHeader(bytes);
  if (!header.frame) {
    throw new LoupeError('IMAGE_INVALID', `corrupt JPEG: ${header.problem ?? 'no frame header (SOF) found'}`, file, 're-export the image');
  }
  checkDimensions(header.frame.width, header.frame.height, file, opts);

  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      // Guards inside jpeg-js in case our header scan and its parser ever disagree.
      maxResolutionInMP: Math.max(opts.maxPixels / 1e6, 1),
      // Coefficient buffers (2 bytes per sample per component) plus the RGBA output, with room.
      maxMemoryUsageInMB: Math.ceil((opts.maxPixels * 16) / 2 ** 20) + 64,
    });
  } catch (err) {
    throw new LoupeError('IMAGE_INVALID', `corrupt JPEG: ${reason(err)}`, file, 're-export the image');
  }
  const rgba: RgbaImage = {
    width: decoded.width,
    height: decoded.height,
    data: Float32Array.from(decoded.data),
  };
  return applyOrientation(rgba, header.orientation);
}

// ---------------------------------------------------------------------------------------------

function checkDimensions(width: number, height: number, file: string, opts: DecodeOptions): void {
  if (width === 0 || height === 0) {
    throw new LoupeError('IMAGE_INVALID', `the header declares an empty image (${width}×${height})`, file, 're-export the image');
  }
  if (width * height > opts.maxPixels) {
    throw new LoupeError(
      'IMAGE_TOO_LARGE',
      `the image is ${width}×${height} (${(width * height / 1e6).toFixed(1)} MP), more than the limit of ${(opts.maxPixels / 1e6).toFixed(1)} MP`,
      file,
      'downscale the image first or raise the pixel limit',
    );
  }
}

function otherFormat(b: Buffer): string | undefined {
  const ascii = (from: number, to: number) => b.toString('latin1', from, to);
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'TIFF';
  if (ascii(4, 12) === 'ftypavif' || ascii(4, 12) === 'ftypheic') return 'AVIF/HEIC';
  return undefined;
}

function describeStart(b: Buffer): string {
  if (b.length === 0) return 'nothing: the file is empty';
  const head = b.subarray(0, 8);
  const hex = [...head].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const printable = [...head].every((x) => x >= 0x20 && x < 0x7f);
  return printable ? `"${head.toString('latin1')}"` : hex;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
