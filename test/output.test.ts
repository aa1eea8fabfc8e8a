// Output writers: .npy, colormaps, display reduction, overlays, the output folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { interpolateInferno, interpolateRdBu } from 'd3-scale-chromatic';
import { decodeNpy, encodeNpy } from '../src/engine/output/npy';
import { colorizeMap, clipScale, DIVERGING_LUT, SEQUENTIAL_LUT } from '../src/engine/output/colormap';
import { reduceForDisplay } from '../src/engine/output/display';
import { overlayPng } from '../src/engine/output/overlay';
import { writeExplainOutputs } from '../src/engine/output/write';
import type { ExplainResult, RgbaImage } from '../src/engine/types';
import type { MapSummary } from '../src/protocol/types';

// ----------------------------------------------------------------------------------------------
// npy

test('npy: header bytes follow the NPY 1.0 spec', () => {
  const buf = encodeNpy(new Float32Array([1.5, -2, 0.25, 3, 4, 5]), [2, 3]);
  // magic "\x93NUMPY", version 1.0
  assert.deepEqual([...buf.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = buf[8]! | (buf[9]! << 8); // little-endian uint16
  assert.equal((10 + headerLen) % 64, 0, 'magic + version + length + header is a multiple of 64');
  const header = buf.toString('latin1', 10, 10 + headerLen);
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.equal(buf.length, 10 + headerLen + 6 * 4);
  // Data: little-endian IEEE float32, C order.
  assert.equal(buf.readFloatLE(10 + headerLen), 1.5);
  assert.equal(buf.readFloatLE(10 + headerLen + 4), -2);
  assert.equal(buf.readFloatLE(10 + headerLen + 20), 5);
  // 1-D shapes need Python's trailing comma.
  const one = encodeNpy(new Float32Array(3), [3]);
  assert.match(one.toString('latin1', 10, 10 + one.readUInt16LE(8)), /'shape': \(3,\)/);
});

test('npy: round trip of several shapes', () => {
  for (const shape of [[4], [3, 5], [2, 3, 4], [7, 1, 3]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
    const back = decodeNpy(encodeNpy(data, shape));
    assert.deepEqual(back.shape, shape);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  }
  // A subarray view at an odd byte offset encodes only its own values.
  const big = new Float32Array([9, 1, 2, 3, 9]);
  assert.deepEqual(Array.from(decodeNpy(encodeNpy(big.subarray(1, 4), [3])).data), [1, 2, 3]);
});

test('npy: rejects other dtypes, Fortran order, bad sizes', () => {
  const good = encodeNpy(new Float32Array(6), [2, 3]);
  const withHeader = (f: (h: string) => string): Buffer => {
    const len = good.readUInt16LE(8);
    const h = f(good.toString('latin1', 10, 10 + len)).padEnd(len - 1, ' ').slice(0, len - 1) + '\n';
    return Buffer.concat([good.subarray(0, 10), Buffer.from(h, 'latin1'), good.subarray(10 + len)]);
  };
  assert.throws(() => decodeNpy(withHeader((h) => h.replace('<f4', '<f8'))), /'<f8'.*only '<f4'/);
  assert.throws(() => decodeNpy(withHeader((h) => h.replace('<f4', '>f4'))), /'>f4'/);
  assert.throws(() => decodeNpy(withHeader((h) => h.replace('False', 'True '))), /Fortran/);
  assert.throws(() => decodeNpy(withHeader((h) => h.replace('(2, 3)', '(2, 4)'))), /needs 32 data bytes/);
  assert.throws(() => decodeNpy(Buffer.from('not npy at all')), /magic/);
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /holds 6 values/);
});

// ----------------------------------------------------------------------------------------------
// colormap

function colourAt(rgba: Uint8Array, i: number): number[] {
  return Array.from(rgba.subarray(i * 4, i * 4 + 4));
}

/** Parses d3's "#rrggbb" / "rgb(r, g, b)" independently of the module under test. */
function d3Rgb(css: string): number[] {
  if (css.startsWith('#')) return [1, 3, 5].map((i) => parseInt(css.slice(i, i + 2), 16));
  return css.slice(4, -1).split(',').map(Number);
}

test('colormap: an all-zero map is the zero colour everywhere, no NaN', () => {
  const zeros = new Float32Array(10);
  assert.equal(clipScale(zeros), 0);
  const seq = colorizeMap(zeros, false);
  const div = colorizeMap(zeros, true);
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(colourAt(seq, i), [...d3Rgb(interpolateInferno(0)), 255]);
    assert.deepEqual(colourAt(div, i), [...d3Rgb(interpolateRdBu(0.5)), 255]);
  }
  // NaN/Infinity in a map do not poison the scale.
  const odd = colorizeMap(new Float32Array([NaN, 1, Infinity, 0]), false);
  assert.deepEqual(colourAt(odd, 0), [...d3Rgb(interpolateInferno(0)), 255]);
  assert.deepEqual(colourAt(odd, 1), [...d3Rgb(interpolateInferno(1)), 255]);
});

test('colormap: signed maps are symmetric (v and −v take mirrored entries; + red, − blue)', () => {
  const vals = Float32Array.from([-1, -0.6, -0.3, -0.01, 0, 0.01, 0.3, 0.6, 1]);
  const rgba = colorizeMap(vals, true);
  const entry = (c: number[]) => DIVERGING_LUT.findIndex((e) => e[0] === c[0] && e[1] === c[1] && e[2] === c[2]);
  for (let k = 0; k < 4; k++) {
    const neg = entry(colourAt(rgba, k));
    const pos = entry(colourAt(rgba, 8 - k));
    assert.ok(neg >= 0 && pos >= 0);
    assert.equal(neg + pos, DIVERGING_LUT.length - 1, `±${vals[8 - k]}`);
  }
  // Extremes are RdBu's ends: full positive = its red end (t = 0), full negative = its blue end.
  assert.deepEqual(colourAt(rgba, 8).slice(0, 3), d3Rgb(interpolateRdBu(0)));
  assert.deepEqual(colourAt(rgba, 0).slice(0, 3), d3Rgb(interpolateRdBu(1)));
  const [r, , b] = colourAt(rgba, 7);
  assert.ok(r! > b!, 'positive is red');
});

test('colormap: clipping at the 99.5th percentile of |v|', () => {
  // 1000 values 1..1000: percentile (linear, numpy default) = 1 + 0.995·999 = 995.005.
  const vals = Float32Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.ok(Math.abs(clipScale(vals) - 995.005) < 1e-3);
  const rgba = colorizeMap(vals, false);
  const top = [...d3Rgb(interpolateInferno(1)), 255];
  assert.deepEqual(colourAt(rgba, 999), top, 'above the percentile: clipped to the top colour');
  assert.deepEqual(colourAt(rgba, 996), top);
  assert.notDeepEqual(colourAt(rgba, 900), top);
  // A sparse map (fewer than 0.5 % non-zero) still shows its peak.
  const sparse = new Float32Array(1000);
  sparse[10] = 3;
  assert.equal(clipScale(sparse), 3);
});

test('colormap: the sequential map has monotone luminance', () => {
  const ramp = Float32Array.from({ length: 256 }, (_, i) => i / 255);
  const rgba = colorizeMap(ramp, false);
  // Relative luminance (WCAG / sRGB): linearise each channel, then weight.
  const lin = (c: number) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  let prev = -1;
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = colourAt(rgba, i);
    const y = 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
    assert.ok(y >= prev - 1e-6, `luminance drops at ${i}`);
    prev = y;
  }
  assert.equal(SEQUENTIAL_LUT.length, 256);
});

// ----------------------------------------------------------------------------------------------
// display reduction and overlay

test('reduceForDisplay: absmax, sum, abssum over channels; 2-D unchanged', () => {
  const data = Float32Array.from([1, -3, 2, /**/ -0.5, 0.25, 0]); // H=1, W=2, C=3
  assert.deepEqual(Array.from(reduceForDisplay(data, [1, 2, 3], 'absmax')), [3, 0.5]);
  assert.deepEqual(Array.from(reduceForDisplay(data, [1, 2, 3], 'sum')), [0, -0.25]);
  assert.deepEqual(Array.from(reduceForDisplay(data, [1, 2, 3], 'abssum')), [6, 0.75]);
  assert.equal(reduceForDisplay(data, [2, 3], 'sum'), data);
  assert.throws(() => reduceForDisplay(data, [2, 2, 2], 'sum'));
});

function testImage(w: number, h: number): RgbaImage {
  const data = new Float32Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, 255], i * 4);
  return { width: w, height: h, data };
}

test('overlayPng: same size as the base, blend of gray base and colour', () => {
  const base = testImage(6, 4);
  const display = Float32Array.from({ length: 24 }, (_, i) => (i === 5 ? 1 : 0));
  const png = PNG.sync.read(overlayPng(base, display, false, 0.5));
  assert.deepEqual([png.width, png.height], [6, 4]);
  const top = d3Rgb(interpolateInferno(1));
  const zero = d3Rgb(interpolateInferno(0));
  for (const i of [0, 5, 17]) {
    const [r, g, b] = [base.data[i * 4]!, base.data[i * 4 + 1]!, base.data[i * 4 + 2]!];
    const gray = 0.299 * r + 0.587 * g + 0.114 * b;
    const colour = i === 5 ? top : zero;
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(png.data[i * 4 + k]! - (0.5 * gray + 0.5 * colour[k]!)) <= 0.5 + 1e-9);
  }
  assert.throws(() => overlayPng(base, new Float32Array(5), false), /5 values/);
});

// ----------------------------------------------------------------------------------------------
// writeExplainOutputs

function mapSummary(method: MapSummary['method'], shape: number[], signed: boolean, lowresShape?: number[]): MapSummary {
  return {
    method, params: {}, targetClass: 1, label: 'one', target: 'logit', logit: 2, probability: 0.7, ms: 1,
    backend: 'cpu', shape, signed, figures: {}, notes: [], ...(lowresShape ? { lowresShape } : {}),
  };
}

test('writeExplainOutputs: every file exists, .npy decode to the same data, no temp files left', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-out-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const outDir = path.join(dir, 'nested', 'run'); // created on demand
  const image = testImage(4, 3);
  const grad = Float32Array.from({ length: 36 }, (_, i) => i - 18);
  const cam = Float32Array.from({ length: 12 }, (_, i) => i / 11);
  const camLow = Float32Array.from([0.1, 0.9]);
  const s1 = mapSummary('gradient', [3, 4, 3], false);
  const s2 = mapSummary('gradcam', [3, 4], false, [1, 2]);
  const result: ExplainResult = {
    summary: { model: 'm/model.json', image: 'x.png', backend: 'cpu', inputShape: [3, 4, 3], predictions: [], maps: [s1, s2], skipped: [] },
    maps: [
      { summary: s1, data: grad, display: reduceForDisplay(grad, [3, 4, 3], 'absmax') },
      { summary: s2, data: cam, lowres: camLow, display: cam },
    ],
    image,
  };
  const written = await writeExplainOutputs(result, outDir);
  const names = ['gradient.npy', 'gradient.png', 'gradcam.npy', 'gradcam_lowres.npy', 'gradcam.png', 'input.png', 'summary.json'];
  assert.deepEqual(written.map((f) => path.basename(f)).sort(), [...names].sort());
  assert.deepEqual(fs.readdirSync(outDir).sort(), [...names].sort(), 'nothing else (no temp files)');

  const g = decodeNpy(fs.readFileSync(path.join(outDir, 'gradient.npy')));
  assert.deepEqual(g.shape, [3, 4, 3]);
  assert.deepEqual(Array.from(g.data), Array.from(grad));
  const low = decodeNpy(fs.readFileSync(path.join(outDir, 'gradcam_lowres.npy')));
  assert.deepEqual(low.shape, [1, 2]);
  assert.deepEqual(Array.from(low.data), Array.from(camLow));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8')), result.summary);
  const input = PNG.sync.read(fs.readFileSync(path.join(outDir, 'input.png')));
  assert.deepEqual(Array.from(input.data), Array.from(image.data));
  const overlay = PNG.sync.read(fs.readFileSync(path.join(outDir, 'gradcam.png')));
  assert.deepEqual([overlay.width, overlay.height], [4, 3]);
});
