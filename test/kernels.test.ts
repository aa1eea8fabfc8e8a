import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels, wasmGradientKernels } from '../src/engine/kernels';
import { setIm2colBlockFloats } from '../src/engine/kernels/conv2dBackpropFilter';
import { rng } from './helpers/models';

/**
 * The wasm gradient kernels against the cpu backend's kernels of the same name, run in this process on
 * the same inputs. Where the cpu kernels are not a valid oracle (they ignore dilations) the oracle is the
 * cpu kernel on the equivalent undilated filter (zeros between the taps).
 */

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

const r = rng(20261123);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const randInt = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const randomValues = (n: number): Float32Array => Float32Array.from({ length: n }, () => r() * 2 - 1);
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Runs `f` on `backend` and returns the values of its tensor output. */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<{ values: Float32Array | Int32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const values = t.dataSync() as Float32Array | Int32Array;
  const shape = t.shape.slice();
  t.dispose();
  return { values: values.slice(), shape };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) worst = d; // NaN-safe: NaN makes worst NaN
  }
  assert.ok(worst <= tol * Math.max(scale, 1e-6), `${what}: max abs diff ${worst} vs scale ${scale}`);
}

/** Output height and width as tfjs computes them (what dy must be), or null when the case is illegal. */
function outHW(x: number[], filter: number[], strides: [number, number], dilation: number, pad: Pad, depthwise: boolean): [number, number] | null {
  const eff = [(filter[0]! - 1) * dilation + 1, (filter[1]! - 1) * dilation + 1];
  if (pad === 'valid' && (eff[0]! > x[1]! || eff[1]! > x[2]!)) return null;
  const info = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], filter as [number, number, number, number], strides, dilation, pad, undefined, depthwise);
  return info.outHeight > 0 && info.outWidth > 0 ? [info.outHeight, info.outWidth] : null;
}

function randomPad(): Pad {
  const kind = pick(['same', 'same', 'valid', 'valid', 'number', 'explicit'] as const);
  if (kind === 'number') return randInt(0, 2);
  if (kind === 'explicit') return [[0, 0], [randInt(0, 2), randInt(0, 2)], [randInt(0, 2), randInt(0, 2)], [0, 0]];
  return kind;
}

/** Filter with (d−1) zeros between taps: a dilation-d convolution with w is an undilated one with this. */
function dilateFilter(w: Float32Array, shape: number[], d: number): { values: Float32Array; shape: number[] } {
  const [kh, kw, c, m] = shape as [number, number, number, number];
  const eh = (kh - 1) * d + 1;
  const ew = (kw - 1) * d + 1;
  const out = new Float32Array(eh * ew * c * m);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    out.set(w.subarray((i * kw + j) * c * m, (i * kw + j + 1) * c * m), (i * d * ew + j * d) * c * m);
  }
  return { values: out, shape: [eh, ew, c, m] };
}

function undilateGradient(g: ArrayLike<number>, shape: number[], d: number): Float32Array {
  const [kh, kw, c, m] = shape as [number, number, number, number];
  const ew = (kw - 1) * d + 1;
  const out = new Float32Array(kh * kw * c * m);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let q = 0; q < c * m; q++) {
    out[(i * kw + j) * c * m + q] = g[(i * d * ew + j * d) * c * m + q]!;
  }
  return out;
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

before(async () => {
  assert.ok(await tf.setBackend('wasm'), 'the wasm backend starts');
  registerWasmGradientKernels();
  registerWasmGradientKernels();
});

test('all four kernels are registered for wasm, once', () => {
  for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'UnsortedSegmentSum']) {
    const k = tf.getKernel(name, 'wasm');
    assert.ok(k, `${name} is registered for wasm`);
    assert.equal(k.kernelFunc, wasmGradientKernels.find((c) => c.kernelName === name)!.kernelFunc, `${name} is ours`);
  }
});

test('Conv2DBackpropFilter matches the cpu kernel over shapes, kernels, strides and paddings', async () => {
  let cases = 0;
  for (let trial = 0; trial < 60; trial++) {
    const b = randInt(1, 2);
    const k = pick([1, 3, 5]);
    const kw = r() < 0.8 ? k : pick([1, 3, 5]);
    const stride = pick([1, 2]);
    const strides: [number, number] = r() < 0.85 ? [stride, stride] : [1, 2];
    const pad = randomPad();
    const h = randInt(Math.max(k, 3), 12);
    const w = randInt(Math.max(kw, 3), 12);
    const ci = pick([1, 3, 4, 8]);
    const co = pick([1, 2, 5, 8]);
    const o = outHW([b, h, w, ci], [k, kw, ci, co], strides, 1, pad, false);
    if (!o) continue;
    const [oh, ow] = o;
    const xv = randomValues(b * h * w * ci);
    const dyv = randomValues(b * oh * ow * co);
    const attrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [k, kw, ci, co] };
    const f = () => run('Conv2DBackpropFilter', { x: tf.tensor4d(xv, [b, h, w, ci]), dy: tf.tensor4d(dyv, [b, oh, ow, co]) }, attrs);
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    assert.deepEqual(wasm.shape, cpu.shape);
    assertClose(wasm.values, cpu.values, `conv filter b${b} ${h}x${w}x${ci}->${co} k${k}x${kw} s${strides} pad ${JSON.stringify(pad)}`);
    cases++;
  }
  assert.ok(cases >= 40, `${cases} legal cases`);
});

test('Conv2DBackpropFilter gives the same result when processed in small pixel blocks', async () => {
  const previous = setIm2colBlockFloats(100);
  try {
    for (const [k, stride, pad] of [[1, 1, 'valid'], [3, 2, 'same'], [3, 1, 1], [5, 2, 'valid']] as const) {
      const [b, h, w, ci, co] = [2, 9, 8, 3, 4];
      const [oh, ow] = outHW([b, h, w, ci], [k, k, ci, co], [stride, stride], 1, pad, false)!;
      const xv = randomValues(b * h * w * ci);
      const dyv = randomValues(b * oh * ow * co);
      const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape: [k, k, ci, co] };
      const f = () => run('Conv2DBackpropFilter', { x: tf.tensor4d(xv, [b, h, w, ci]), dy: tf.tensor4d(dyv, [b, oh, ow, co]) }, attrs);
      const cpu = await on('cpu', f);
      const wasm = await on('wasm', f);
      assertClose(wasm.values, cpu.values, `blocked k${k} s${stride} ${pad}`);
    }
  } finally {
    setIm2colBlockFloats(previous);
  }
});

test('depthwise backprop kernels match the cpu kernels over shapes, multipliers, strides, dilations and paddings', async () => {
  let cases = 0;
  let dilated = 0;
  for (let trial = 0; trial < 80; trial++) {
    const b = randInt(1, 2);
    const k = pick([1, 3, 5]);
    const kw = r() < 0.8 ? k : pick([1, 3]);
    const stride = pick([1, 2]);
    // tfjs requires strides or dilations to be 1
    const dilation = stride === 1 ? pick([1, 2]) : 1;
    const pad = randomPad();
    const ekh = (k - 1) * dilation + 1;
    const ekw = (kw - 1) * dilation + 1;
    const h = randInt(Math.max(ekh, 3), 12);
    const w = randInt(Math.max(ekw, 3), 12);
    const c = pick([1, 3, 4, 8]);
    const m = pick([1, 2]);
    const o = outHW([b, h, w, c], [k, kw, c, m], [stride, stride], dilation, pad, true);
    if (!o) continue;
    const [oh, ow] = o;
    const xv = randomValues(b * h * w * c);
    const wv = randomValues(k * kw * c * m);
    const dyv = randomValues(b * oh * ow * c * m);
    const what = `depthwise b${b} ${h}x${w}x${c} m${m} k${k}x${kw} s${stride} d${dilation} pad ${JSON.stringify(pad)}`;
    const common = { strides: [stride, stride], pad, dimRoundingMode: undefined };
    const dy = () => tf.tensor4d(dyv, [b, oh, ow, c * m]);

    const wasmDx = await on('wasm', () =>
      run('DepthwiseConv2dNativeBackpropInput', { dy: dy(), filter: tf.tensor4d(wv, [k, kw, c, m]) }, { ...common, dilations: [dilation, dilation], inputShape: [b, h, w, c] }));
    const wasmDw = await on('wasm', () =>
      run('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, [b, h, w, c]), dy: dy() }, { ...common, dilations: [dilation, dilation], filterShape: [k, kw, c, m] }));

    // Oracle: the cpu kernels with dilation 1 on the zero-stuffed filter.
    const big = dilateFilter(wv, [k, kw, c, m], dilation);
    const cpuDx = await on('cpu', () =>
      run('DepthwiseConv2dNativeBackpropInput', { dy: dy(), filter: tf.tensor4d(big.values, big.shape as [number, number, number, number]) }, { ...common, dilations: [1, 1], inputShape: [b, h, w, c] }));
    const cpuDwBig = await on('cpu', () =>
      run('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, [b, h, w, c]), dy: dy() }, { ...common, dilations: [1, 1], filterShape: big.shape }));

    assert.deepEqual(wasmDx.shape, [b, h, w, c]);
    assert.deepEqual(wasmDw.shape, [k, kw, c, m]);
    assertClose(wasmDx.values, cpuDx.values, `${what} dx`);
    assertClose(wasmDw.values, undilateGradient(cpuDwBig.values, [k, kw, c, m], dilation), `${what} dw`);
    cases++;
    if (dilation > 1) dilated++;
  }
  assert.ok(cases >= 50 && dilated >= 5, `${cases} legal cases, ${dilated} dilated`);
});

test('dilated depthwise gradients satisfy the adjoint identity of the cpu forward convolution', async () => {
  // <dy, conv(x, w)> = <backpropInput(dy, w), x> = <backpropFilter(x, dy), w>: the forward op is bilinear.
  for (const [h, w, k, d, pad] of [[9, 10, 3, 2, 'same'], [11, 8, 3, 3, 'valid'], [12, 12, 5, 2, 1]] as const) {
    const [b, c, m] = [2, 3, 2];
    const xv = randomValues(b * h * w * c);
    const wv = randomValues(k * k * c * m);
    const y = await on('cpu', () => tf.depthwiseConv2d(tf.tensor4d(xv, [b, h, w, c]), tf.tensor4d(wv, [k, k, c, m]), 1, pad, 'NHWC', d));
    const dyv = randomValues(size(y.shape));
    const attrs = { strides: [1, 1], pad, dilations: [d, d] };
    const dx = await on('wasm', () => run('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor(dyv, y.shape), filter: tf.tensor4d(wv, [k, k, c, m]) }, { ...attrs, inputShape: [b, h, w, c] }));
    const dw = await on('wasm', () => run('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, [b, h, w, c]), dy: tf.tensor(dyv, y.shape) }, { ...attrs, filterShape: [k, k, c, m] }));
    const dot = (a: ArrayLike<number>, q: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * q[i]!; return s; };
    const lhs = dot(dyv, y.values);
    const scale = Math.sqrt(dot(dyv, dyv) * dot(y.values, y.values));
    assert.ok(Math.abs(dot(dx.values, xv) - lhs) <= 1e-5 * scale, `input adjoint ${h}x${w} k${k} d${d}`);
    assert.ok(Math.abs(dot(dw.values, wv) - lhs) <= 1e-5 * scale, `filter adjoint ${h}x${w} k${k} d${d}`);
  }
});

test('UnsortedSegmentSum matches the cpu kernel, dropping out-of-range ids', async () => {
  for (let trial = 0; trial < 20; trial++) {
    const n = randInt(1, 30);
    const inner = pick([[], [1], [5], [3, 4]]);
    const numSegments = randInt(1, 12);
    const ids = Int32Array.from({ length: n }, () => randInt(-1, numSegments)); // -1 and numSegments are out of range
    const dtype = trial % 4 === 3 ? 'int32' : 'float32';
    const xv = dtype === 'int32' ? Int32Array.from({ length: n * size(inner) }, () => randInt(-50, 50)) : randomValues(n * size(inner));
    const f = () => run('UnsortedSegmentSum', { x: tf.tensor(xv, [n, ...inner], dtype), segmentIds: tf.tensor1d(ids, 'int32') }, { numSegments });
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    assert.deepEqual(wasm.shape, [numSegments, ...inner]);
    assert.deepEqual(wasm.shape, cpu.shape);
    assertClose(wasm.values, cpu.values, `segment sum n${n} inner ${inner} segments ${numSegments} ${dtype}`, dtype === 'int32' ? 0 : 1e-6);
  }
});

test('the kernels leave no wasm buffers behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.findBackend('wasm')!;
  const previous = setIm2colBlockFloats(200);
  try {
    const x = tf.randomNormal([2, 7, 6, 3]);
    const dy = tf.randomNormal([2, 7, 6, 4]);
    const dyDepthwise = tf.randomNormal([2, 4, 3, 6]);
    const filter = tf.randomNormal([3, 3, 3, 2]);
    const ids = tf.tensor1d([0, 2, 2], 'int32');
    const rows = tf.randomNormal([3, 5]);
    const before = backend.numDataIds();
    for (const blocks of [200, 1 << 22]) {
      setIm2colBlockFloats(blocks);
      for (const [name, inputs, attrs] of [
        ['Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] }],
        ['Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', filterShape: [1, 1, 3, 4] }],
        ['DepthwiseConv2dNativeBackpropInput', { dy: dyDepthwise, filter }, { strides: [2, 2], pad: 'same', dilations: [1, 1], inputShape: [2, 7, 6, 3] }],
        ['DepthwiseConv2dNativeBackpropFilter', { x, dy: dyDepthwise }, { strides: [2, 2], pad: 'same', dilations: [1, 1], filterShape: [3, 3, 3, 2] }],
        ['UnsortedSegmentSum', { x: rows, segmentIds: ids }, { numSegments: 4 }],
      ] as const) {
        run(name, inputs, attrs).dispose();
        assert.equal(backend.numDataIds(), before, `${name} (block ${blocks}) frees its intermediates`);
      }
    }
    tf.dispose([x, dy, dyDepthwise, filter, ids, rows]);
  } finally {
    setIm2colBlockFloats(previous);
  }
});

test('non-float32 inputs are refused with a message that names the kernel and the dtype', async () => {
  await tf.setBackend('wasm');
  const x = tf.zeros([1, 4, 4, 2], 'int32');
  const dy = tf.zeros([1, 4, 4, 3], 'int32');
  assert.throws(
    () => run('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 2, 3] }),
    (e: Error) => /Conv2DBackpropFilter/.test(e.message) && /float32/.test(e.message) && /int32/.test(e.message),
  );
  tf.dispose([x, dy]);
});

/** Counts calls of the four wasm kernels while `f` runs. */
async function countKernelCalls<T>(f: () => Promise<T>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const originals = wasmGradientKernels.map((c) => {
    const kernel = tf.getKernel(c.kernelName, 'wasm')!;
    const original = kernel.kernelFunc;
    counts.set(c.kernelName, 0);
    kernel.kernelFunc = (args) => {
      counts.set(c.kernelName, counts.get(c.kernelName)! + 1);
      return original(args);
    };
    return () => { kernel.kernelFunc = original; };
  });
  try {
    await f();
  } finally {
    originals.forEach((restore) => restore());
  }
  return counts;
}

/** A small layers model: conv with bias + relu, depthwise conv (multiplier 2, stride 2), linear 1×1 conv with bias, dense. */
function imageModel(): tf.LayersModel {
  const input = tf.input({ shape: [9, 10, 3] });
  let y = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: true, biasInitializer: 'randomNormal' }).apply(input) as tf.SymbolicTensor;
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu', biasInitializer: 'randomNormal' }).apply(y) as tf.SymbolicTensor;
  // linear + bias: tfjs keeps this conv fused under tf.grad, and the fused gradient computes the filter gradient eagerly
  y = tf.layers.conv2d({ filters: 5, kernelSize: 1, biasInitializer: 'randomNormal' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 3 }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y });
}

test('end to end: layers-model input and weight gradients on wasm equal those on cpu', async () => {
  await tf.setBackend('cpu');
  const model = imageModel();
  const xv = Float32Array.from({ length: 2 * 9 * 10 * 3 }, () => r());
  const classOut = (x: tf.Tensor) => tf.sum(tf.slice(model.apply(x) as tf.Tensor, [0, 1], [-1, 1]));
  const inputGrad = () => tf.grad(classOut)(tf.tensor4d(xv, [2, 9, 10, 3]));
  const cpu = await on('cpu', inputGrad);
  const called = await countKernelCalls(() => on('wasm', inputGrad));
  const wasm = await on('wasm', inputGrad);
  assert.ok(called.get('Conv2DBackpropFilter')! > 0 && called.get('DepthwiseConv2dNativeBackpropInput')! > 0, 'the input gradient uses the new kernels');
  assert.ok(cpu.values.some((v) => v !== 0), 'the gradient is not trivially zero');
  assertClose(wasm.values, cpu.values, 'd class / d input');

  const weightGrads = async (backend: 'cpu' | 'wasm') => {
    await tf.setBackend(backend);
    const { grads, value } = tf.variableGrads(() => classOut(tf.tensor4d(xv, [2, 9, 10, 3])) as tf.Scalar);
    const out = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice()]));
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const cpuW = await weightGrads('cpu');
  let wasmW: Record<string, Float32Array | Int32Array | Uint8Array> = {};
  const calledW = await countKernelCalls(async () => { wasmW = await weightGrads('wasm'); });
  assert.ok(calledW.get('DepthwiseConv2dNativeBackpropFilter')! > 0 && calledW.get('Conv2DBackpropFilter')! >= 2, 'the weight gradients use the new kernels');
  assert.equal(Object.keys(wasmW).length, model.trainableWeights.length);
  for (const [name, g] of Object.entries(cpuW)) assertClose(wasmW[name]!, g, `d class / d ${name}`);
  model.dispose();
});

test('end to end: gradients through an embedding (gather) on wasm equal those on cpu', async () => {
  await tf.setBackend('cpu');
  const input = tf.input({ shape: [6], dtype: 'int32' });
  let y = tf.layers.embedding({ inputDim: 11, outputDim: 4 }).apply(input) as tf.SymbolicTensor;
  y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({ units: 2 }).apply(y) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  const ids = Int32Array.from([3, 0, 3, 10, 7, 3, 1, 1, 9, 2, 5, 3]);
  const grads = async (backend: 'cpu' | 'wasm') => {
    await tf.setBackend(backend);
    const { grads: g, value } = tf.variableGrads(() => tf.sum(model.apply(tf.tensor2d(ids, [2, 6], 'int32')) as tf.Tensor) as tf.Scalar);
    const out = Object.fromEntries(Object.entries(g).map(([k, t]) => [k, t.dataSync().slice()]));
    tf.dispose([value, ...Object.values(g)]);
    return out;
  };
  const cpu = await grads('cpu');
  const wasm = await grads('wasm');
  const called = await countKernelCalls(() => grads('wasm'));
  assert.ok(called.get('UnsortedSegmentSum')! > 0, 'the embedding gradient uses UnsortedSegmentSum');
  const embeddingKey = Object.keys(cpu).find((k) => k.includes('embedding'))!;
  assert.ok(embeddingKey, 'the embedding table has a gradient');
  assert.ok(cpu[embeddingKey]!.some((v) => v !== 0));
  for (const [name, g] of Object.entries(cpu)) assertClose(wasm[name]!, g, `d sum / d ${name}`);
  model.dispose();
});

test('MaxPoolGrad (replacing the wasm backend\'s own, which is wrong) equals the cpu kernel over sizes, windows, strides and paddings', async () => {
  const { registerWasmGradientKernels } = await import('../src/engine/kernels');
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
  const cases: [number[], number, number, 'same' | 'valid'][] = [
    [[2, 8, 8, 3], 2, 2, 'valid'], [[1, 9, 7, 4], 3, 2, 'same'], [[2, 7, 9, 2], 3, 1, 'same'],
    [[1, 10, 10, 5], 2, 2, 'same'], [[1, 6, 6, 1], 3, 3, 'valid'], [[2, 5, 8, 3], 2, 1, 'valid'],
  ];
  for (const [shape, size, stride, pad] of cases) {
    const x = tf.randomNormal(shape, 0, 1, 'float32', shape[1]! * 7 + size);
    const probe = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, size, stride, pad);
    const w = tf.randomNormal(probe(x).shape, 0, 1, 'float32', 3);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(probe(t), w));
    await tf.setBackend('wasm');
    const ours = tf.grad(f)(x).dataSync();
    await tf.setBackend('cpu');
    const reference = tf.grad(f)(tf.tensor(x.dataSync(), x.shape)).dataSync();
    await tf.setBackend('wasm');
    let diff = 0;
    for (let i = 0; i < ours.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - reference[i]!));
    assert.ok(diff < 1e-5, `${shape} pool ${size} stride ${stride} ${pad}: max diff ${diff}`);
  }
});
