// Resizing and preprocessing, checked against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizeImage } from '../src/engine/image/resize';
import { pixelToInput, toModelInput } from '../src/engine/image/preprocess';
import { LoupeError } from '../src/protocol/errors';
import type { Preprocessing } from '../src/protocol/types';
import type { RgbaImage } from '../src/engine/types';

function image(w: number, h: number, f: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Float32Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 4);
  return { width: w, height: h, data };
}

function channel(img: RgbaImage, c: number): number[] {
  return Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 4 + c]!);
}

function close(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

// ----------------------------------------------------------------------------------------------
// resize

test('resize: a constant image stays constant when shrinking and enlarging', () => {
  const img = image(37, 23, () => [10, 200, 55, 255]);
  for (const [w, h] of [[11, 7], [80, 50], [37, 5], [3, 23], [1, 1]]) {
    const out = resizeImage(img, w!, h!);
    assert.deepEqual([out.width, out.height], [w, h]);
    for (let c = 0; c < 4; c++) close(channel(out, c), new Array(w! * h!).fill([10, 200, 55, 255][c]), 1e-3, `${w}x${h} c${c}`);
  }
});

test('resize: shrinking a 1-px checkerboard by 4 averages it to ≈127.5 (antialiased)', () => {
  const board = image(32, 32, (x, y) => {
    const v = (x + y) % 2 === 0 ? 255 : 0;
    return [v, v, v, 255];
  });
  const out = resizeImage(board, 8, 8);
  const red = channel(out, 0);
  // Nearest or plain 2-tap bilinear sampling would give 0/255 or strong aliasing; a triangle of
  // radius 4 weighs even and odd pixels equally wherever its 8 taps fit inside the image.
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const v = red[y * 8 + x]!;
      const interior = x > 0 && x < 7 && y > 0 && y < 7;
      assert.ok(Math.abs(v - 127.5) <= (interior ? 1e-3 : 12), `(${x},${y}) = ${v}`);
    }
  }
  // Plain bilinear happens to average the checkerboard too (it samples between two pixels), but
  // not 1-px lines every 4 px: it reads pixels 4i+1 and 4i+2 and misses the lines entirely.
  // The antialiased filter sees them: taps 4i−2…4i+5 weigh (1,3,5,7,7,5,3,1)/32 and the lines
  // sit at 4i and 4i+4, weights 5/32 + 3/32 = 1/4 → 63.75.
  const lines = resizeImage(image(32, 4, (x) => (x % 4 === 0 ? [255, 255, 255, 255] : [0, 0, 0, 255])), 8, 4);
  close(channel(lines, 0).filter((_, i) => i % 8 > 0 && i % 8 < 7), new Array(24).fill(63.75), 1e-3, 'lines');
});

test('resize: shrinking a ramp by exactly 2 gives the triangle-filter values', () => {
  // Source 0,10,…,70. Output i is centred on source 2i+1 (half-pixel grid); the triangle is
  // stretched to radius 2, so taps 2i−1…2i+2 weigh 1/8, 3/8, 3/8, 1/8. At the borders the taps
  // falling outside are dropped and the rest renormalised: (0.75·0 + 0.75·10 + 0.25·20) / 1.75.
  const expected = [(0.75 * 0 + 0.75 * 10 + 0.25 * 20) / 1.75, (10 + 3 * 20 + 3 * 30 + 40) / 8, (30 + 3 * 40 + 3 * 50 + 60) / 8,
    (0.25 * 50 + 0.75 * 60 + 0.75 * 70) / 1.75];
  const row = image(8, 1, (x) => [x * 10, 70 - x * 10, 5, 255]);
  const outRow = resizeImage(row, 4, 1);
  close(channel(outRow, 0), expected, 1e-4, 'horizontal');
  close(channel(outRow, 1), expected.map((v) => 70 - v), 1e-4, 'horizontal, decreasing');
  const col = image(1, 8, (_, y) => [y * 10, 0, 0, 255]);
  close(channel(resizeImage(col, 1, 4), 0), expected, 1e-4, 'vertical');
  // Separable: a 2-D ramp r = x·10 + y·10 shrinks to the sum of the two 1-D results.
  const both = resizeImage(image(8, 8, (x, y) => [x * 10 + y * 100, 0, 0, 255]), 4, 4);
  const want: number[] = [];
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) want.push(expected[x]! + 10 * expected[y]!);
  close(channel(both, 0), want, 1e-3, '2-D');
});

test('resize: enlarging is plain bilinear on the half-pixel grid', () => {
  // 2 → 4: output centres at source 0.25, 0.75, 1.25, 1.75 → 0, 25, 75, 100 (edges clamp).
  const out = resizeImage(image(2, 1, (x) => [x * 100, 0, 0, 255]), 4, 1);
  close(channel(out, 0), [0, 25, 75, 100], 1e-4, 'enlarge');
});

test('resize: same size returns the same object', () => {
  const img = image(5, 4, () => [1, 2, 3, 4]);
  assert.equal(resizeImage(img, 5, 4), img);
});

// ----------------------------------------------------------------------------------------------
// preprocessing

const IMAGENET: Preprocessing = { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channels: 'rgb' };

test('toModelInput: rgb with mean/std, by hand', () => {
  const img = image(2, 1, (x) => (x === 0 ? [255, 128, 0, 255] : [10, 20, 30, 255]));
  const x = Array.from(toModelInput(img, IMAGENET, 3));
  close(x, [
    (1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225,
    (10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225,
  ], 1e-5, 'rgb');
});

test('toModelInput: bgr swaps the order and takes mean/std in model order', () => {
  const caffe: Preprocessing = { range: [0, 255], mean: [103.939, 116.779, 123.68], std: [1], channels: 'bgr' };
  const img = image(1, 1, () => [200, 100, 50, 255]);
  close(Array.from(toModelInput(img, caffe, 3)), [50 - 103.939, 100 - 116.779, 200 - 123.68], 1e-4, 'bgr');
});

test('toModelInput: gray uses BT.601 luma, range [-1, 1], scalar mean/std', () => {
  const pre: Preprocessing = { range: [-1, 1], mean: [0.5], std: [2], channels: 'gray' };
  const img = image(2, 1, (x) => (x === 0 ? [255, 128, 0, 255] : [0, 0, 255, 255]));
  const luma0 = 0.299 * 255 + 0.587 * 128 + 0.114 * 0;
  const luma1 = 0.114 * 255;
  close(Array.from(toModelInput(img, pre, 1)), [((luma0 / 255) * 2 - 1 - 0.5) / 2, ((luma1 / 255) * 2 - 1 - 0.5) / 2], 1e-5, 'gray');
});

test('toModelInput: alpha is composited over black', () => {
  const pre: Preprocessing = { range: [0, 255], mean: [0], std: [1], channels: 'rgb' };
  const img = image(2, 1, (x) => (x === 0 ? [200, 100, 50, 51] : [200, 100, 50, 0]));
  close(Array.from(toModelInput(img, pre, 3)), [40, 20, 10, 0, 0, 0], 1e-4, 'alpha');
});

test('pixelToInput: the black pixel under common preprocessings', () => {
  close(pixelToInput([0, 0, 0], IMAGENET, 3), [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], 1e-5, 'imagenet');
  close(pixelToInput([0, 0, 0], { range: [-1, 1], mean: [0], std: [1], channels: 'rgb' }, 3), [-1, -1, -1], 1e-6, 'tf');
  close(pixelToInput([255, 255, 255, 255], { range: [0, 1], mean: [0], std: [1], channels: 'gray' }, 1), [1], 1e-6, 'white gray');
});

test('toModelInput: channel count must match the preprocessing', () => {
  const img = image(1, 1, () => [0, 0, 0, 255]);
  assert.throws(() => toModelInput(img, IMAGENET, 1), (e) => e instanceof LoupeError && e.code === 'BAD_REQUEST');
  assert.throws(() => toModelInput(img, { ...IMAGENET, mean: [0, 0] }, 3), (e) => e instanceof LoupeError && /mean/.test(e.message));
});
