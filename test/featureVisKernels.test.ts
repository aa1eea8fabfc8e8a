import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend';
import { irfft2d, irfft2dAdjoint, irfft2dForward } from '../src/engine/featureVis/fft';
import { irfft2dAdjointLoops, irfft2dLoops } from '../src/engine/featureVis/fftLoops';
import { FourierPipeline } from '../src/engine/featureVis/fourierPipeline';
import { FourierImage, halfSpectrumWidth, normalizedColorMatrix, spectrumScale } from '../src/engine/featureVis/param';
import { resample, resampleForward, resampleTranspose, resizeTable, rotationTable } from '../src/engine/featureVis/resample';
import { inputMap, modelInput, parameterGradient } from '../src/engine/featureVis/pipeline';
import { applyTransforms, drawTransforms, prepareTransforms, STANDARD_TRANSFORMS, type TransformDraw } from '../src/engine/featureVis/transforms';
import { resizeForward, resizeTranspose, separableResize } from '../src/engine/featureVis/separableResize';
import { rng } from './helpers/models';

/**
 * The feature-visualisation kernels against independent oracles: the inverse real FFT against a direct
 * DFT sum, every linear op's adjoint by ⟨Ax, y⟩ = ⟨x, Aᵀy⟩, rotation by 90° against an exact pixel
 * permutation, resizing against TF.js's own ResizeBilinear, Lucid's constants against numpy's numbers
 * (test/fixtures/featurevis/make_lucid_reference.py), and the whole parameterisation + transforms
 * backward against finite differences.
 */

const REFERENCE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/featurevis/lucid_reference.json'), 'utf8')) as {
  scale: { h: number; w: number; decay: number; values: number[]; shape: number[] }[];
  colorNormalized: number[];
  fourierImage: { h: number; w: number; spectrum: number[]; image: number[] }[];
};

const r = rng(20261201);
const randn = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
const randnSeeded = (seed: number, n: number) => {
  const q = rng(seed);
  return Float32Array.from({ length: n }, () => q() * 2 - 1);
};

before(async () => {
  await initBackend('wasm');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** numpy's irfft2 written out: x[m, n] = 1/(H·Nw) Σ_j Σ_k c_k Re(X[j,k] e^{2πi(jm/H + kn/Nw)}). */
function directIrfft2(re: Float32Array, im: Float32Array, H: number, WF: number, h: number, w: number): Float64Array {
  const Nw = 2 * (WF - 1);
  const out = new Float64Array(h * w);
  for (let m = 0; m < h; m++) {
    for (let n = 0; n < w; n++) {
      let s = 0;
      for (let j = 0; j < H; j++) {
        for (let k = 0; k < WF; k++) {
          const c = k === 0 || 2 * k === Nw ? 1 : 2;
          const a = 2 * Math.PI * (j * m / H + k * n / Nw);
          s += c * (re[j * WF + k]! * Math.cos(a) - im[j * WF + k]! * Math.sin(a));
        }
      }
      out[m * w + n] = s / (H * Nw);
    }
  }
  return out;
}

test('inverse real 2-D FFT equals the direct DFT sum, odd and even sizes, with the crop', () => {
  for (const [H, w] of [[5, 7], [6, 8], [4, 5], [7, 4], [9, 9]] as const) {
    const WF = halfSpectrumWidth(w);
    const n = 3;
    const re = randn(n * H * WF);
    const im = randn(n * H * WF);
    const spectrum = tf.concat([tf.tensor4d(re, [1, n, H, WF]), tf.tensor4d(im, [1, n, H, WF])], 0);
    const out = irfft2dForward(spectrum, { H, WF, h: H, w }).dataSync();
    for (let b = 0; b < n; b++) {
      const slice = (a: Float32Array) => a.subarray(b * H * WF, (b + 1) * H * WF);
      const expected = directIrfft2(slice(re), slice(im), H, WF, H, w);
      const got = out.subarray(b * H * w, (b + 1) * H * w);
      assert.ok(maxAbsDiff(got, expected) < 1e-5, `${H}×${w} spectrum ${b}: max diff ${maxAbsDiff(got, expected)}`);
    }
    spectrum.dispose();
  }
});

test('the FFT adjoint satisfies ⟨A s, y⟩ = ⟨s, Aᵀ y⟩ and is the op\'s gradient', () => {
  for (const [H, w, h] of [[5, 7, 5], [6, 8, 6], [8, 8, 5]] as const) {
    const WF = halfSpectrumWidth(w);
    const shape = { H, WF, h, w };
    const s = tf.tensor4d(randn(2 * 2 * H * WF), [2, 2, H, WF]);
    const y = tf.tensor3d(randn(2 * h * w), [2, h, w]);
    const lhs = dot(irfft2dForward(s, shape).dataSync(), y.dataSync());
    const adj = irfft2dAdjoint(y, shape).dataSync();
    const rhs = dot(s.dataSync(), adj);
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${H}×${w}→${h}: ${lhs} vs ${rhs}`);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(irfft2d(x, shape), y)))(s).dataSync();
    assert.ok(maxAbsDiff(grad, adj) < 1e-6, 'custom gradient = adjoint');
  }
});

test('the loop FFT (radix-2 and direct sums) equals the direct DFT sum and its adjoint satisfies ⟨A s, y⟩ = ⟨s, Aᵀ y⟩', () => {
  // Powers of two take the radix-2 path along that axis (H, or Nw = 2·(WF − 1)), other sizes the direct sum.
  for (const [H, w, h] of [[5, 7, 5], [6, 8, 6], [8, 16, 8], [16, 8, 11], [9, 9, 9], [4, 5, 3], [32, 32, 32]] as const) {
    const WF = halfSpectrumWidth(w);
    const n = 3;
    const spectrum = randn(2 * n * H * WF);
    const shape = { H, WF, h, w };
    const out = irfft2dLoops(spectrum, n, shape);
    for (let b = 0; b < n; b++) {
      const slice = (from: number) => spectrum.subarray(from + b * H * WF, from + (b + 1) * H * WF);
      const expected = directIrfft2(slice(0), slice(n * H * WF), H, WF, h, w);
      const got = out.subarray(b * h * w, (b + 1) * h * w);
      assert.ok(maxAbsDiff(got, expected) < 1e-5, `${H}×${w}→${h} spectrum ${b}: max diff ${maxAbsDiff(got, expected)}`);
    }
    const y = randn(n * h * w);
    const lhs = dot(out, y);
    const rhs = dot(spectrum, irfft2dAdjointLoops(y, n, shape));
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${H}×${w}→${h}: ${lhs} vs ${rhs}`);
  }
});

test('Lucid\'s spectrum scale, colour matrix and Fourier image equal numpy\'s numbers', () => {
  for (const c of REFERENCE.scale) {
    const got = spectrumScale(c.h, c.w, c.decay);
    assert.deepEqual([c.h, halfSpectrumWidth(c.w)], c.shape);
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i]! - c.values[i]!) <= 1e-6 * c.values[i]!, `scale ${c.h}×${c.w}[${i}]: ${got[i]} vs ${c.values[i]}`);
    }
  }
  const color = normalizedColorMatrix();
  assert.ok(maxAbsDiff(color, REFERENCE.colorNormalized) < 1e-6, `colour matrix ${Array.from(color)}`);
  // references.md: [[0.5628,0.1948,0.0433],[0.5845,0,−0.1082],[0.5845,−0.1948,0.0649]]
  assert.ok(Math.abs(color[0]! - 0.5628) < 1e-4 && Math.abs(color[5]! + 0.1082) < 1e-4);
  for (const c of REFERENCE.fourierImage) {
    // Pre-sigmoid image: sigmoid⁻¹ of FourierImage without decorrelation, 1 channel.
    const f = new FourierImage({ batch: 1, height: c.h, width: c.w, channels: 1, decayPower: 1, decorrelate: false });
    const img = tf.tidy(() => {
      const p = f.image(tf.tensor1d(Float32Array.from(c.spectrum)));
      return tf.log(tf.div(p, tf.sub(1, p))).dataSync();
    });
    assert.ok(maxAbsDiff(img, c.image) < 1e-4, `Fourier image ${c.h}×${c.w}: ${maxAbsDiff(img, c.image)}`);
  }
});

test('rotation by 90° permutes pixels exactly as numpy.rot90; 0° is the identity', () => {
  for (const n of [5, 6]) {
    const x = randn(n * n * 2);
    const t = tf.tensor4d(x, [1, n, n, 2]);
    const out = resampleForward(t, rotationTable(n, n, Math.PI / 2)).dataSync();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        for (let c = 0; c < 2; c++) {
          // rot90(A)[i, j] = A[j, n − 1 − i]
          assert.ok(Math.abs(out[(i * n + j) * 2 + c]! - x[(j * n + (n - 1 - i)) * 2 + c]!) < 1e-5, `${n}: (${i}, ${j})`);
        }
      }
    }
    assert.ok(maxAbsDiff(resampleForward(t, rotationTable(n, n, 0)).dataSync(), x) < 1e-6);
  }
});

test('rotation and resizing: transpose satisfies ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ and is the op\'s gradient', () => {
  const tables = [
    rotationTable(7, 9, 0.17), rotationTable(8, 8, -0.13), rotationTable(6, 5, 1.0),
    resizeTable(9, 7, 12, 11, false), resizeTable(12, 10, 7, 8, false), resizeTable(6, 6, 13, 13, true), resizeTable(14, 9, 5, 6, true),
  ];
  for (const table of tables) {
    const x = tf.tensor4d(randn(2 * table.inH * table.inW * 3), [2, table.inH, table.inW, 3]);
    const y = tf.tensor4d(randn(2 * table.outH * table.outW * 3), [2, table.outH, table.outW, 3]);
    const lhs = dot(resampleForward(x, table).dataSync(), y.dataSync());
    const at = resampleTranspose(y, table).dataSync();
    const rhs = dot(x.dataSync(), at);
    const what = `${table.inH}×${table.inW}→${table.outH}×${table.outW}`;
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${what}: ${lhs} vs ${rhs}`);
    const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(resample(v as tf.Tensor4D, table), y)))(x).dataSync();
    assert.ok(maxAbsDiff(grad, at) < 1e-6, `${what}: gradient = transpose`);
  }
});

test('resizing equals TF.js ResizeBilinear (legacy and align-corners) on the cpu backend', async () => {
  const cases: Array<[number, number, number, number, boolean]> = [[9, 7, 12, 11, false], [12, 10, 7, 8, false], [6, 6, 13, 13, true], [14, 9, 5, 6, true]];
  for (const [ih, iw, oh, ow, align] of cases) {
    const x = randn(ih * iw * 3);
    const ours = tf.tidy(() => resampleForward(tf.tensor4d(x, [1, ih, iw, 3]), resizeTable(ih, iw, oh, ow, align)).dataSync());
    await tf.setBackend('cpu');
    const theirs = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(x, [1, ih, iw, 3]), [oh, ow], align, false).dataSync());
    await tf.setBackend('wasm');
    assert.ok(maxAbsDiff(ours, theirs) < 1e-5, `${ih}×${iw}→${oh}×${ow} align ${align}: ${maxAbsDiff(ours, theirs)}`);
  }
});

test('standard transforms draw Lucid\'s sizes: 128 → pad 152 → crop 144 → scale → rotate → crop − 4 → model input', () => {
  const draws = drawTransforms(STANDARD_TRANSFORMS, 128, 128, 224, 224, rng(5));
  assert.deepEqual(draws.map((d) => d.kind), ['pad', 'crop', 'resize', 'rotate', 'crop', 'resize']);
  const crop1 = draws[1] as Extract<TransformDraw, { kind: 'crop' }>;
  assert.equal(crop1.height, 144);
  assert.ok(crop1.top >= 0 && crop1.top <= 8);
  const scaled = draws[2] as Extract<TransformDraw, { kind: 'resize' }>;
  assert.ok(scaled.height >= 129 && scaled.height <= 158, `scaled to ${scaled.height}`);
  assert.equal((draws[4] as Extract<TransformDraw, { kind: 'crop' }>).height, scaled.height - 4);
  assert.deepEqual(draws[5], { kind: 'resize', height: 224, width: 224, alignCorners: true });
  // Every scale factor and angle occurs, angle 0 with probability 6/26.
  const angles = new Map<number, number>();
  const sizes = new Set<number>();
  const rand = rng(9);
  for (let i = 0; i < 4000; i++) {
    const d = drawTransforms(STANDARD_TRANSFORMS, 128, 128, 224, 224, rand);
    sizes.add((d[2] as Extract<TransformDraw, { kind: 'resize' }>).height);
    const deg = Math.round(((d[3] as Extract<TransformDraw, { kind: 'rotate' }>).radians * 180) / Math.PI);
    angles.set(deg, (angles.get(deg) ?? 0) + 1);
  }
  assert.equal(sizes.size, 11);
  assert.equal(angles.size, 21);
  assert.ok(Math.abs(angles.get(0)! / 4000 - 6 / 26) < 0.03, `P(0°) = ${angles.get(0)! / 4000}`);
});

test('parameterisation + transforms + preprocessing backward equals finite differences (rgb, bgr, gray)', () => {
  const cases = [
    { channels: 3, pre: { range: [-1, 1], mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7], channels: 'rgb' } },
    { channels: 3, pre: { range: [0, 255], mean: [100, 110, 120], std: [50, 60, 70], channels: 'bgr' } },
    { channels: 1, pre: { range: [0, 1], mean: [0.5], std: [0.25], channels: 'gray' } },
  ] as const;
  for (const { channels, pre } of cases) {
    const size = 11;
    const f = new FourierImage({ batch: 2, height: size, width: size, channels, decayPower: 1, decorrelate: true });
    const image = (p: tf.Tensor) => f.image(p);
    // rgb/bgr: crops folded into the resampling tables; gray: a pad between crops and a trailing crop (slice stages).
    const specs = channels === 3
      ? [{ kind: 'pad', pixels: 2, value: 0.5 }, { kind: 'jitter', pixels: 2 }, { kind: 'scale', factors: [1.2] },
        { kind: 'rotate', degrees: [7] }, { kind: 'jitter', pixels: 1 }]
      : [{ kind: 'pad', pixels: 3, value: 0.5 }, { kind: 'jitter', pixels: 3 }, { kind: 'pad', pixels: 1, value: 0.2 },
        { kind: 'rotate', degrees: [9] }, { kind: 'jitter', pixels: 3 }, { kind: 'pad', pixels: 1, value: 0.5 }, { kind: 'jitter', pixels: 1 }];
    const stages = prepareTransforms(drawTransforms(specs as never, size, size, 16, 16, rng(3)), size, size);
    if (channels === 1) assert.ok(stages.filter((st) => st.kind === 'slice').length >= 2, `slice stages: ${stages.map((st) => st.kind).join(', ')}`);
    const map = inputMap({ ...pre, range: [...pre.range] as [number, number], mean: [...pre.mean], std: [...pre.std] }, channels);
    const g = randn(2 * 16 * 16 * channels);
    const value = (theta: Float32Array) => dot(modelInput(image, theta, stages, map), g);
    // A moderate parameter scale so the sigmoid is in its curved range.
    const theta = Float32Array.from(randn(f.size), (v) => v * 0.05);
    const grad = parameterGradient(image, theta, stages, map, g, [2, 16, 16, channels]);
    for (let trial = 0; trial < 4; trial++) {
      const d = randn(f.size);
      const eps = 1e-2;
      const fd = (value(theta.map((v, i) => v + eps * d[i]!)) - value(theta.map((v, i) => v - eps * d[i]!))) / (2 * eps);
      const analytic = dot(grad, d);
      assert.ok(Math.abs(fd - analytic) < 3e-3 * Math.max(1, Math.abs(analytic)), `${pre.channels}, trial ${trial}: FD ${fd} vs ${analytic}`);
    }
    // The explicit transposes agree with TF.js autodiff through the resampling ops' custom gradients.
    const weights = () => tf.tensor4d(randnSeeded(7, 2 * 16 * 16 * channels), [2, 16, 16, channels]);
    const viaAutodiff = tf.tidy(() => tf.grad((p: tf.Tensor) => tf.sum(tf.mul(applyTransforms(image(p), stages), weights())))(tf.tensor1d(theta)).dataSync());
    const viaTranspose = parameterGradient(image, theta, stages, { scale: new Float32Array(channels).fill(1), offset: new Float32Array(channels), bgr: false },
      randnSeeded(7, 2 * 16 * 16 * channels), [2, 16, 16, channels]);
    assert.ok(maxAbsDiff(viaAutodiff, viaTranspose) < 1e-4, `transposes vs autodiff: ${maxAbsDiff(viaAutodiff, viaTranspose)}`);
    // The plain-loop pipeline the render runs: the same input, and a backward that passes the same finite differences.
    const loops = new FourierPipeline(f, map);
    const loopInput = loops.forward(theta, stages);
    assert.ok(maxAbsDiff(loopInput, modelInput(image, theta, stages, map)) < 1e-5, `loop forward: ${maxAbsDiff(loopInput, modelInput(image, theta, stages, map))}`);
    const loopGrad = loops.backward(g, [2, 16, 16, channels]);
    for (let trial = 0; trial < 4; trial++) {
      const d = randn(f.size);
      const eps = 1e-2;
      const fd = (value(theta.map((v, i) => v + eps * d[i]!)) - value(theta.map((v, i) => v - eps * d[i]!))) / (2 * eps);
      const analytic = dot(loopGrad, d);
      assert.ok(Math.abs(fd - analytic) < 3e-3 * Math.max(1, Math.abs(analytic)), `loops, ${pre.channels}, trial ${trial}: FD ${fd} vs ${analytic}`);
    }
    assert.ok(maxAbsDiff(loopGrad, grad) < 1e-3 * Math.max(1, ...Array.from(grad, Math.abs)), 'loop backward = TF.js backward');
  }
});

test('prepared transforms (crops folded into the resampling tables) equal the naive chain of TF.js ops', () => {
  const rand = rng(12);
  for (let trial = 0; trial < 6; trial++) {
    const size = 20 + trial;
    const draws = drawTransforms(STANDARD_TRANSFORMS, size, size, 33, 29, rand);
    const x = tf.tensor4d(randn(2 * size * size * 3), [2, size, size, 3]);
    const ours = applyTransforms(x, prepareTransforms(draws, size, size)).dataSync();
    let y: tf.Tensor4D = x;
    for (const d of draws) {
      if (d.kind === 'pad') y = tf.pad(y, [[0, 0], [d.pixels, d.pixels], [d.pixels, d.pixels], [0, 0]], d.value);
      else if (d.kind === 'crop') y = tf.slice(y, [0, d.top, d.left, 0], [-1, d.height, d.width, -1]);
      else if (d.kind === 'resize') y = tf.image.resizeBilinear(y, [d.height, d.width], d.alignCorners);
      else y = resampleForward(y, rotationTable(y.shape[1], y.shape[2], d.radians));
    }
    assert.deepEqual(y.shape, [2, 33, 29, 3]);
    assert.ok(maxAbsDiff(ours, y.dataSync()) < 1e-4, `trial ${trial}: ${maxAbsDiff(ours, y.dataSync())}`);
  }
});

test('separable resize (the loops\' final stage, preprocessing folded in) equals TF.js ResizeBilinear and the map; its transpose satisfies ⟨Ax, y⟩ = ⟨x, Aᵀy⟩', async () => {
  const cases: Array<[number, number, number, number, boolean, number]> = [[9, 7, 12, 11, false, 3], [12, 10, 7, 8, false, 3], [6, 6, 13, 13, true, 1], [14, 9, 5, 6, true, 3]];
  for (const [ih, iw, oh, ow, align, C] of cases) {
    // Inside a window of a larger image, as a crop before it is folded in.
    const win = { top: 2, left: 1, fullH: ih + 3, fullW: iw + 2 };
    const full = randn(2 * win.fullH * win.fullW * C);
    const map = { scale: Float32Array.from({ length: C }, (_, c) => 0.5 + c), offset: Float32Array.from({ length: C }, (_, c) => c - 1), bgr: C === 3 };
    const r = separableResize(ih, iw, oh, ow, align, win);
    const ours = resizeForward(full, 2, C, r, map);
    await tf.setBackend('cpu');
    const theirs = tf.tidy(() => {
      const cropped = tf.slice(tf.tensor4d(full, [2, win.fullH, win.fullW, C]), [0, win.top, win.left, 0], [-1, ih, iw, -1]);
      const resized = tf.image.resizeBilinear(cropped as tf.Tensor4D, [oh, ow], align, false);
      const ordered = map.bgr ? tf.reverse(resized, 3) : resized;
      return tf.add(tf.mul(ordered, tf.tensor1d(map.scale)), tf.tensor1d(map.offset)).dataSync();
    });
    await tf.setBackend('wasm');
    const what = `${ih}×${iw}→${oh}×${ow} align ${align}, ${C} channel(s)`;
    assert.ok(maxAbsDiff(ours, theirs) < 1e-5, `${what}: ${maxAbsDiff(ours, theirs)}`);
    // The transpose of the linear part (offsets dropped), zero outside the window.
    const y = randn(2 * oh * ow * C);
    const linear = resizeForward(full, 2, C, r, { ...map, offset: new Float32Array(C) });
    const at = resizeTranspose(y, 2, C, r, map);
    const lhs = dot(linear, y);
    const rhs = dot(full, at);
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${what}: ${lhs} vs ${rhs}`);
    assert.equal(at[0], 0, 'outside the window');
  }
});

test('the loop pipeline without a final resize (image at the model\'s size) applies the preprocessing on its own, forward and back', () => {
  const size = 12;
  const f = new FourierImage({ batch: 1, height: size, width: size, channels: 3, decayPower: 1, decorrelate: true });
  const map = inputMap({ range: [0, 255], mean: [100, 110, 120], std: [50, 60, 70], channels: 'bgr' }, 3);
  const stages = prepareTransforms(drawTransforms([{ kind: 'rotate', degrees: [8] }] as never, size, size, size, size, rng(4)), size, size);
  assert.deepEqual(stages.map((s) => s.kind), ['resample'], 'a rotation last: no resize to fold the map into');
  const theta = Float32Array.from(randn(f.size), (v) => v * 0.05);
  const loops = new FourierPipeline(f, map);
  const input = loops.forward(theta, stages);
  const image = (p: tf.Tensor) => f.image(p);
  assert.ok(maxAbsDiff(input, modelInput(image, theta, stages, map)) < 1e-4, `forward: ${maxAbsDiff(input, modelInput(image, theta, stages, map))}`);
  const g = randn(size * size * 3);
  const grad = loops.backward(g, [1, size, size, 3]);
  const reference = parameterGradient(image, theta, stages, map, g, [1, size, size, 3]);
  assert.ok(maxAbsDiff(grad, reference) < 1e-3 * Math.max(1, ...Array.from(reference, Math.abs)), 'backward = TF.js backward');
});
