// Image decoding: every PNG flavour, JPEG baseline/progressive, EXIF orientation, refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import exifr from 'exifr';
import { decodeImage, readImageFile, maxFileBytes } from '../src/engine/image/decode';
import { LoupeError } from '../src/protocol/errors';
import type { RgbaImage } from '../src/engine/types';

const FIXTURES = path.join(__dirname, 'fixtures', 'images');
const OPTS = { maxPixels: 40e6 };

// ----------------------------------------------------------------------------------------------
// helpers

/** A PNG chunk: length, type, data, CRC over type + data (PNG spec §5.3). */
function chunk(type: string, data: Buffer): Buffer {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

function ihdr(width: number, height: number, depth: number, colorType: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = depth;
  d[9] = colorType;
  return chunk('IHDR', d); // compression, filter, interlace = 0
}

/** A PNG written by hand: `rows` are the packed scanlines (filter byte 0 is added here). */
function handPng(width: number, height: number, depth: number, colorType: number, rows: Buffer[], extra: Buffer[] = []): Buffer {
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ihdr(width, height, depth, colorType),
    ...extra,
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function pixel(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

function expectLoupeError(fn: () => unknown, code: string, file: string): LoupeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LoupeError, `expected a LoupeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

async function expectLoupeErrorAsync(p: Promise<unknown>, code: string, file: string): Promise<LoupeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LoupeError, `expected a LoupeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** 8-bit samples with every value 0..255 appearing, so no rescaling bug can hide. */
function sample8(i: number): number {
  return (i * 37 + 11) % 256;
}

// ----------------------------------------------------------------------------------------------
// PNG

test('PNG 8-bit RGBA decodes to the exact samples', () => {
  const w = 16, h = 16;
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h * 4; i++) png.data[i] = sample8(i);
  const img = decodeImage(PNG.sync.write(png, { colorType: 6 }), 'a.png', OPTS);
  assert.equal(img.width, w);
  assert.equal(img.height, h);
  assert.deepEqual(Array.from(img.data), Array.from(png.data));
});

test('PNG 8-bit RGB decodes with alpha 255', () => {
  const w = 8, h = 5;
  const png = new PNG({ width: w, height: h });
  // Opaque source: pngjs would otherwise composite over white when dropping alpha.
  for (let i = 0; i < w * h * 4; i++) png.data[i] = i % 4 === 3 ? 255 : sample8(i);
  const img = decodeImage(PNG.sync.write(png, { colorType: 2 }), 'rgb.png', OPTS);
  for (let p = 0; p < w * h; p++) {
    assert.deepEqual(Array.from(img.data.subarray(p * 4, p * 4 + 4)), [png.data[p * 4], png.data[p * 4 + 1], png.data[p * 4 + 2], 255]);
  }
});

test('PNG 8-bit gray and gray+alpha replicate the gray value into R, G, B', () => {
  const w = 16, h = 16;
  const gray = Buffer.from(Array.from({ length: w * h }, (_, i) => sample8(i)));
  const rows = Array.from({ length: h }, (_, y) => gray.subarray(y * w, (y + 1) * w));
  const img = decodeImage(handPng(w, h, 8, 0, rows), 'g.png', OPTS);
  for (let p = 0; p < w * h; p++) assert.deepEqual(pixel(img, p % w, Math.floor(p / w)), [gray[p], gray[p], gray[p], 255]);

  const ga = Array.from({ length: h }, (_, y) =>
    Buffer.from(Array.from({ length: w * 2 }, (_, i) => (i % 2 === 0 ? gray[y * w + i / 2]! : 255 - gray[y * w + (i - 1) / 2]!))));
  const img2 = decodeImage(handPng(w, h, 8, 4, ga), 'ga.png', OPTS);
  for (let p = 0; p < w * h; p++) {
    assert.deepEqual(pixel(img2, p % w, Math.floor(p / w)), [gray[p], gray[p], gray[p], 255 - gray[p]!]);
  }
});

test('PNG 1-bit gray maps 0/1 onto 0/255', () => {
  // 10 pixels: 1011001110 packed MSB first into two bytes.
  const row = Buffer.from([0b10110011, 0b10000000]);
  const img = decodeImage(handPng(10, 1, 1, 0, [row]), 'bits.png', OPTS);
  const bits = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0];
  bits.forEach((b, x) => assert.deepEqual(pixel(img, x, 0), [b * 255, b * 255, b * 255, 255]));
});

test('PNG palette (8-bit and 4-bit indices, with tRNS) expands to the palette colours', () => {
  const palette = [[255, 0, 0], [0, 128, 255], [10, 20, 30], [200, 200, 0]];
  const alpha = [255, 64, 0]; // entry 3 has no tRNS entry → opaque
  const plte = chunk('PLTE', Buffer.from(palette.flat()));
  const trns = chunk('tRNS', Buffer.from(alpha));
  const indices = [[0, 1, 2, 3], [3, 2, 1, 0]];
  const expectColour = (i: number) => [...palette[i]!, alpha[i] ?? 255];

  const img8 = decodeImage(handPng(4, 2, 8, 3, indices.map((r) => Buffer.from(r)), [plte, trns]), 'p8.png', OPTS);
  // 4-bit: two indices per byte, high nibble first.
  const rows4 = indices.map((r) => Buffer.from([(r[0]! << 4) | r[1]!, (r[2]! << 4) | r[3]!]));
  const img4 = decodeImage(handPng(4, 2, 4, 3, rows4, [plte, trns]), 'p4.png', OPTS);
  for (const img of [img8, img4]) {
    indices.forEach((r, y) => r.forEach((idx, x) => assert.deepEqual(pixel(img, x, y), expectColour(idx))));
  }
});

test('PNG 16-bit keeps its precision (value / 65535 · 255)', () => {
  const w = 4, h = 2;
  // Neighbouring 16-bit values that 8-bit rounding would merge.
  const values = [0, 1000, 1001, 65535, 32768, 32769, 12345, 54321];
  // RGBA 16-bit: pngjs takes host-order 16-bit samples when inputColorType == colorType.
  const rgba16 = new Uint16Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    rgba16.set([values[p]!, values[(p + 1) % 8]!, values[(p + 2) % 8]!, values[(p + 3) % 8]!], p * 4);
  }
  const png = new PNG({ width: w, height: h });
  png.data = Buffer.from(rgba16.buffer);
  const bytes = PNG.sync.write(png, { colorType: 6, inputColorType: 6, bitDepth: 16 });
  const img = decodeImage(bytes, 'deep.png', OPTS);
  for (let i = 0; i < rgba16.length; i++) {
    assert.ok(Math.abs(img.data[i]! - (rgba16[i]! / 65535) * 255) < 1e-4, `sample ${i}: ${img.data[i]}`);
  }
  assert.notEqual(pixel(img, 1, 0)[0], pixel(img, 2, 0)[0], '1000 and 1001 stay distinct');

  // Gray 16-bit, written by hand (big-endian samples).
  const row = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => row.writeUInt16BE(v, i * 2));
  const g = decodeImage(handPng(values.length, 1, 16, 0, [row]), 'g16.png', OPTS);
  values.forEach((v, x) => {
    const px = pixel(g, x, 0);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(px[k]! - (v / 65535) * 255) < 1e-4);
    assert.equal(px[3], 255);
  });
});

// ----------------------------------------------------------------------------------------------
// JPEG

function smoothImage(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      data[i] = Math.round((x / (w - 1)) * 255);
      data[i + 1] = Math.round((y / (h - 1)) * 255);
      data[i + 2] = 100;
      data[i + 3] = 255;
    }
  }
  return data;
}

test('JPEG baseline decodes within JPEG tolerance', () => {
  const w = 32, h = 24;
  const src = smoothImage(w, h);
  const bytes = jpeg.encode({ width: w, height: h, data: src }, 95).data;
  const img = decodeImage(bytes, 'a.jpg', OPTS);
  assert.equal(img.width, w);
  assert.equal(img.height, h);
  let maxErr = 0, sumErr = 0;
  for (let i = 0; i < src.length; i++) {
    if (i % 4 === 3) { assert.equal(img.data[i], 255); continue; }
    const e = Math.abs(img.data[i]! - src[i]!);
    maxErr = Math.max(maxErr, e);
    sumErr += e;
  }
  assert.ok(maxErr <= 16, `max error ${maxErr}`);
  assert.ok(sumErr / (w * h * 3) <= 3, `mean error ${sumErr / (w * h * 3)}`);
});

test('progressive JPEG fixture decodes like its baseline twin and close to the source', () => {
  const prog = fs.readFileSync(path.join(FIXTURES, 'progressive.jpg'));
  const base = fs.readFileSync(path.join(FIXTURES, 'baseline.jpg'));
  assert.ok(prog.includes(Buffer.from([0xff, 0xc2])), 'fixture really is progressive (SOF2)');
  assert.ok(!base.includes(Buffer.from([0xff, 0xc2])), 'twin really is baseline');
  const p = decodeImage(prog, 'progressive.jpg', OPTS);
  const b = decodeImage(base, 'baseline.jpg', OPTS);
  const s = decodeImage(fs.readFileSync(path.join(FIXTURES, 'source.png')), 'source.png', OPTS);
  assert.deepEqual([p.width, p.height], [s.width, s.height]);
  let maxPB = 0, sumPS = 0;
  for (let i = 0; i < s.data.length; i++) {
    maxPB = Math.max(maxPB, Math.abs(p.data[i]! - b.data[i]!));
    sumPS += Math.abs(p.data[i]! - s.data[i]!);
  }
  // Same quantised coefficients, different entropy coding: identical up to IDCT rounding.
  assert.ok(maxPB <= 1, `progressive vs baseline max diff ${maxPB}`);
  assert.ok(sumPS / s.data.length < 4, `progressive vs source mean diff ${sumPS / s.data.length}`);
});

// EXIF orientation ------------------------------------------------------------------------------

/** APP1 "Exif\0\0" + big-endian TIFF with one IFD0 entry: Orientation (0x0112, SHORT, 1) = n. */
function exifApp1(orientation: number): Buffer {
  const tiff = Buffer.from([
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // "MM", 42, IFD0 at offset 8
    0x00, 0x01, // one entry
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, orientation, 0x00, 0x00, // tag, SHORT, count 1, value
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ]);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

// Stored image: 3 × 2 blocks of 16 × 16 px, each a distinct saturated colour.
const BLOCK = 16;
const GRID = [
  ['red', 'green', 'blue'],
  ['yellow', 'magenta', 'cyan'],
];
const COLOURS: Record<string, number[]> = {
  red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255],
  yellow: [255, 255, 0], magenta: [255, 0, 255], cyan: [0, 255, 255],
};

function gridJpeg(orientation?: number): Buffer {
  const w = 3 * BLOCK, h = 2 * BLOCK;
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = COLOURS[GRID[Math.floor(y / BLOCK)]![Math.floor(x / BLOCK)]!]!;
      data.set([...c, 255], (y * w + x) * 4);
    }
  }
  const bytes = jpeg.encode({ width: w, height: h, data }, 95).data;
  if (orientation === undefined) return bytes;
  return Buffer.concat([bytes.subarray(0, 2), exifApp1(orientation), bytes.subarray(2)]); // right after SOI
}

function nearestColour(px: number[]): string {
  let best = '', bestD = Infinity;
  for (const [name, c] of Object.entries(COLOURS)) {
    const d = (px[0]! - c[0]!) ** 2 + (px[1]! - c[1]!) ** 2 + (px[2]! - c[2]!) ** 2;
    if (d < bestD) { best = name; bestD = d; }
  }
  return best;
}

/** Colour names of the displayed image's blocks, row by row, read at block centres. */
function blockNames(img: RgbaImage): string[][] {
  const rows: string[][] = [];
  for (let by = 0; by < img.height / BLOCK; by++) {
    const row: string[] = [];
    for (let bx = 0; bx < img.width / BLOCK; bx++) {
      row.push(nearestColour(pixel(img, bx * BLOCK + BLOCK / 2, by * BLOCK + BLOCK / 2)));
    }
    rows.push(row);
  }
  return rows;
}

test('EXIF orientation 3, 6, 8 is applied (hand-built APP1)', async () => {
  assert.deepEqual(blockNames(decodeImage(gridJpeg(), 'plain.jpg', OPTS)), GRID, 'no EXIF: stored layout');
  // Expected layouts from the EXIF definitions: 3 = rotate 180°; 6 = stored row 0 is the visual
  // right column (rotate 90° clockwise); 8 = stored row 0 is the visual left column (90° counter-clockwise).
  const expected: Record<number, string[][]> = {
    3: [['cyan', 'magenta', 'yellow'], ['blue', 'green', 'red']],
    6: [['yellow', 'red'], ['magenta', 'green'], ['cyan', 'blue']],
    8: [['blue', 'cyan'], ['green', 'magenta'], ['red', 'yellow']],
  };
  for (const o of [3, 6, 8]) {
    const bytes = gridJpeg(o);
    // exifr as an independent reader: our hand-built APP1 must be valid EXIF.
    assert.equal(await exifr.orientation(bytes), o);
    const img = decodeImage(bytes, `o${o}.jpg`, OPTS);
    assert.deepEqual([img.width, img.height], o === 3 ? [48, 32] : [32, 48]);
    assert.deepEqual(blockNames(img), expected[o], `orientation ${o}`);
  }
});

// ----------------------------------------------------------------------------------------------
// refusals

test('a PNG header claiming 30000×30000 is refused before decoding', () => {
  const bytes = handPng(30000, 30000, 8, 6, []); // no pixel data at all: only the header is read
  const t0 = performance.now();
  const err = expectLoupeError(() => decodeImage(bytes, 'huge.png', OPTS), 'IMAGE_TOO_LARGE', 'huge.png');
  assert.ok(performance.now() - t0 < 100);
  assert.match(err.message, /30000×30000/);
});

test('a JPEG whose frame header claims 30000×30000 is refused before decoding', () => {
  const bytes = Buffer.from(jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(256, 128) }, 90).data);
  const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
  bytes.writeUInt16BE(30000, sof + 5);
  bytes.writeUInt16BE(30000, sof + 7);
  expectLoupeError(() => decodeImage(bytes, 'huge.jpg', OPTS), 'IMAGE_TOO_LARGE', 'huge.jpg');
});

test('truncated PNG, bad CRC and truncated JPEG are IMAGE_INVALID', () => {
  const png = new PNG({ width: 32, height: 32 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = sample8(i);
  const good = PNG.sync.write(png);

  const cut = expectLoupeError(
    () => decodeImage(good.subarray(0, Math.floor(good.length / 2)), 'cut.png', OPTS), 'IMAGE_INVALID', 'cut.png');
  assert.match(cut.message, /cut off/);

  const bad = Buffer.from(good);
  const idat = bad.indexOf('IDAT');
  bad[idat + 10]! ^= 0xff; // inside the compressed data; the CRC no longer matches
  const err = expectLoupeError(() => decodeImage(bad, 'crc.png', OPTS), 'IMAGE_INVALID', 'crc.png');
  assert.match(err.message, /IDAT chunk fails its CRC/);

  const jpg = jpeg.encode({ width: 32, height: 32, data: png.data }, 90).data;
  expectLoupeError(() => decodeImage(jpg.subarray(0, 100), 'cut.jpg', OPTS), 'IMAGE_INVALID', 'cut.jpg'); // in the tables
  const sos = jpg.indexOf(Buffer.from([0xff, 0xda]));
  const mid = Math.floor((sos + jpg.length) / 2);
  expectLoupeError(() => decodeImage(jpg.subarray(0, mid), 'cut2.jpg', OPTS), 'IMAGE_INVALID', 'cut2.jpg'); // in the scan
});

test('files that are not PNG/JPEG are IMAGE_INVALID, naming what they start with', () => {
  const err = expectLoupeError(
    () => decodeImage(Buffer.from('hello, this is text\n'), 'notes.png', OPTS), 'IMAGE_INVALID', 'notes.png');
  assert.match(err.message, /not a PNG or JPEG image \(starts with "hello, t"\)/);
  const gif = expectLoupeError(() => decodeImage(Buffer.from('GIF89a\x01\x00', 'latin1'), 'x.gif', OPTS), 'IMAGE_INVALID', 'x.gif');
  assert.match(gif.message, /GIF/);
  expectLoupeError(() => decodeImage(Buffer.alloc(0), 'empty.png', OPTS), 'IMAGE_INVALID', 'empty.png');
});

test('readImageFile: reads a file, refuses missing, text-as-png and oversized files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-img-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const png = new PNG({ width: 3, height: 2 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = sample8(i);
  const ok = path.join(dir, 'ok.png');
  fs.writeFileSync(ok, PNG.sync.write(png));
  assert.deepEqual(Array.from((await readImageFile(ok, OPTS)).data), Array.from(png.data));

  const missing = path.join(dir, 'missing.png');
  await expectLoupeErrorAsync(readImageFile(missing, OPTS), 'IMAGE_NOT_FOUND', missing);
  await expectLoupeErrorAsync(readImageFile(dir, OPTS), 'IMAGE_INVALID', dir); // a folder is not an image file

  const text = path.join(dir, 'text.png');
  fs.writeFileSync(text, 'just text');
  await expectLoupeErrorAsync(readImageFile(text, OPTS), 'IMAGE_INVALID', text);

  // A sparse file just over the bound for a 100-pixel limit: refused from its size alone.
  const big = path.join(dir, 'big.png');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, maxFileBytes(100) + 1);
  await expectLoupeErrorAsync(readImageFile(big, { maxPixels: 100 }), 'IMAGE_TOO_LARGE', big);
});
