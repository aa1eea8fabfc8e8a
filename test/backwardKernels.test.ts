import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { buildMobileNetV2 } from '../bench/mobilenetv2';
import { Engine } from '../src/engine/engine';
import { registerWasmGradientKernels, wasmBackwardKernels } from '../src/engine/kernels';
import { heapSimd, heapSimdStatus, setHeapSimdEnabled } from '../src/engine/kernels/heapSimd';
import { INTERLEAVE_PHASES } from '../src/engine/kernels/interleavePhases';
import { RELU_BACKWARD, type ReluBackwardAttrs } from '../src/engine/kernels/reluBackward';
import { gradients } from '../src/engine/model/executor';
import type { ReluRule } from '../src/engine/model/ir';
import { relativeError } from './helpers/context';
import { rng, saveModel } from './helpers/models';

/**
 * Loupe's own wasm kernels for its hand-written backward pass (a one-pass ReLU-family mask and the
 * interleave of strided input-gradient phases) against independent oracles: the same formulas as tfjs
 * ops on the cpu backend, explicit index arithmetic, and whole-model gradients on the cpu backend.
 */

const r = rng(20261124);

before(async () => {
  assert.ok(await tf.setBackend('wasm'), 'the wasm backend starts');
  registerWasmGradientKernels();
});

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

test('the backward kernels are registered for wasm and run as SIMD on the backend memory', () => {
  for (const config of wasmBackwardKernels) {
    assert.equal(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelFunc, `${config.kernelName} is registered`);
    assert.equal(tf.getKernel(config.kernelName, 'cpu'), undefined, `${config.kernelName} is wasm-only`);
  }
  // Without the module the kernels still compute (in JS), but ~10× slower: that must not go unnoticed.
  assert.ok(heapSimd(tf.backend() as BackendWasm), 'the SIMD module assembles, validates and binds to the wasm memory');
});

/** Values where each branch of the mask flips, plus NaN and infinities. */
const SPECIAL = [0, -0, 6, 5.9999995, 6.0000005, 1e-30, -1e-30, 3, -2, 100, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

function sample(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (r() < 0.3 ? SPECIAL[Math.floor(r() * SPECIAL.length)]! : (r() * 2 - 1) * 8));
}

/** dy · slope(y) [· step(dy)] written with tfjs ops as their documented semantics give it, on the cpu backend. */
function referenceMask(dy: tf.Tensor, y: tf.Tensor, attrs: ReluBackwardAttrs): tf.Tensor {
  let slope = tf.step(y);
  if (attrs.kind === 'relu6') slope = tf.mul(slope, tf.step(tf.sub(6, y)));
  if (attrs.kind === 'leakyrelu') slope = tf.add(tf.mul(slope, 1 - attrs.alpha), attrs.alpha);
  const g = tf.mul(dy, slope);
  return attrs.guided ? tf.mul(g, tf.step(dy)) : g;
}

function assertSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol: number): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= tol * Math.max(1, Math.abs(e));
    assert.ok(ok, `${what}: element ${i} is ${a}, expected ${e}`);
  }
}

/** Runs `f` with the SIMD module, then with the JS loops the kernels fall back to without it. */
async function bothPaths(f: (path: string) => Promise<void>): Promise<void> {
  await f('simd');
  const previous = setHeapSimdEnabled(false);
  try {
    await f('js');
  } finally {
    setHeapSimdEnabled(previous);
  }
}

test('LoupeReluBackward equals dy · slope(y) [· step(dy)] from tfjs ops on cpu, NaN and infinities included', () => bothPaths(async (path) => {
  const kinds: ReluBackwardAttrs[] = [];
  for (const guided of [false, true]) {
    kinds.push({ kind: 'relu', alpha: 0, guided }, { kind: 'relu6', alpha: 0, guided }, { kind: 'leakyrelu', alpha: 0.3, guided },
      { kind: 'leakyrelu', alpha: 0.01, guided });
  }
  // Sizes around the 4-lane SIMD width exercise the scalar tail; the large one many vector iterations.
  for (const n of [1, 3, 4, 5, 7, 8, 33, 1001]) {
    for (const attrs of kinds) {
      const dy = sample(n);
      const y = sample(n);
      await tf.setBackend('cpu');
      const expected = tf.tidy(() => referenceMask(tf.tensor1d(dy), tf.tensor1d(y), attrs).dataSync().slice());
      await tf.setBackend('wasm');
      const actual = tf.tidy(() => run(RELU_BACKWARD, { dy: tf.tensor2d(dy, [1, n]), y: tf.tensor2d(y, [1, n]) }, attrs).dataSync().slice());
      // ReLU and ReLU6 multiply by exact 0/1 factors: bit-identical. LeakyReLU's reference forms its
      // slope as step·(1−α)+α in float32, which may differ from α itself in the last bit.
      assertSameValues(actual, expected, `${path}: ${attrs.kind}${attrs.guided ? ' guided' : ''} n=${n}`, attrs.kind === 'leakyrelu' ? 1e-6 : 0);
    }
  }
}));

test('LoupeReluBackward by hand: the ReLU6 window is open only for 0 < y < 6, guided also needs dy > 0', async () => {
  await tf.setBackend('wasm');
  const y = [-1, 0, 0.5, 5.5, 6, 7, 3, 3];
  const dy = [2, 2, 2, 2, 2, 2, -2, 0.5];
  const out = (attrs: ReluBackwardAttrs) => Array.from(tf.tidy(() => run(RELU_BACKWARD, { dy: tf.tensor1d(dy), y: tf.tensor1d(y) }, attrs).dataSync()));
  assert.deepEqual(out({ kind: 'relu6', alpha: 0, guided: false }), [0, 0, 2, 2, 0, 0, -2, 0.5]);
  assert.deepEqual(out({ kind: 'relu6', alpha: 0, guided: true }), [0, 0, 2, 2, 0, 0, -0, 0.5]);
  assert.deepEqual(out({ kind: 'relu', alpha: 0, guided: false }), [0, 0, 2, 2, 2, 2, -2, 0.5]);
  assert.deepEqual(out({ kind: 'leakyrelu', alpha: 0.25, guided: false }), [0.5, 0.5, 2, 2, 2, 2, -2, 0.5]);
});

/** out[b, i·s + a, j·s + c, :] = phase[a·s + c][b, i, j, :], by index arithmetic. */
function referenceInterleave(phases: Float32Array[], shapes: number[][], s: number, B: number, H: number, W: number, C: number): Float32Array {
  const out = new Float32Array(B * H * W * C).fill(Number.NaN);
  phases.forEach((p, k) => {
    const [, ph, pw] = shapes[k]!;
    const a = Math.floor(k / s);
    const c = k % s;
    for (let b = 0; b < B; b++) for (let i = 0; i < ph!; i++) for (let j = 0; j < pw!; j++) for (let ch = 0; ch < C; ch++) {
      out[((b * H + i * s + a) * W + j * s + c) * C + ch] = p[((b * ph! + i) * pw! + j) * C + ch]!;
    }
  });
  return out;
}

test('LoupeInterleavePhases places every phase element where index arithmetic says, covering the output', () => bothPaths(async (path) => {
  await tf.setBackend('wasm');
  let cases = 0;
  for (const s of [2, 3]) for (const B of [1, 2]) for (const H of [1, 4, 7]) for (const W of [2, 5]) for (const C of [1, 3, 4, 5]) {
    if (H < 1 || W < s - 1) continue;
    const shapes: number[][] = [];
    const values: Float32Array[] = [];
    for (let a = 0; a < s; a++) for (let c = 0; c < s; c++) {
      const shape = [B, Math.ceil((H - a) / s), Math.ceil((W - c) / s), C];
      shapes.push(shape);
      values.push(Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => r() * 2 - 1));
    }
    const expected = referenceInterleave(values, shapes, s, B, H, W, C);
    assert.ok(expected.every((v) => !Number.isNaN(v)), 'the phases cover the output');
    const actual = tf.tidy(() => {
      const inputs = Object.fromEntries(values.map((v, k) => [String(k), tf.tensor(v, shapes[k]!)]));
      const out = run(INTERLEAVE_PHASES, inputs, { stride: s, height: H, width: W });
      assert.deepEqual(out.shape, [B, H, W, C]);
      return out.dataSync().slice();
    });
    assert.deepEqual(Array.from(actual), Array.from(expected), `${path}: s${s} B${B} ${H}×${W}×${C}`);
    cases++;
  }
  assert.ok(cases > 80);
}));

test('LoupeInterleavePhases refuses phases of the wrong count or shape', async () => {
  await tf.setBackend('wasm');
  const p = (h: number, w: number) => tf.zeros([1, h, w, 2]);
  const good = [p(2, 2), p(2, 2), p(2, 2), p(2, 2)];
  assert.throws(() => run(INTERLEAVE_PHASES, { 0: good[0]!, 1: good[1]!, 2: good[2]! }, { stride: 2, height: 4, width: 4 }), /needs 4 phases/);
  assert.throws(() => run(INTERLEAVE_PHASES, { 0: good[0]!, 1: good[1]!, 2: good[2]!, 3: p(1, 2) }, { stride: 2, height: 4, width: 4 }), /phase 3/);
  tf.dispose(good);
});

test('the backward kernels leave no wasm buffers behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.findBackend('wasm')!;
  const y = tf.randomNormal([2, 5, 5, 3]);
  const dy = tf.randomNormal([2, 5, 5, 3]);
  const phases = [[3, 3], [3, 2], [2, 3], [2, 2]].map(([h, w]) => tf.randomNormal([2, h!, w!, 3]));
  const before = backend.numDataIds();
  run(RELU_BACKWARD, { dy, y }, { kind: 'relu6', alpha: 0, guided: true }).dispose();
  run(INTERLEAVE_PHASES, { ...phases } as unknown as tf.NamedTensorMap, { stride: 2, height: 5, width: 5 }).dispose();
  assert.equal(backend.numDataIds(), before);
  tf.dispose([y, dy, ...phases]);
});

/** Calls of Loupe's backward kernels while `f` runs. */
function countCalls<T>(f: () => T): { result: T; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const restore = wasmBackwardKernels.map((c) => {
    const kernel = tf.getKernel(c.kernelName, 'wasm')!;
    const original = kernel.kernelFunc;
    calls.set(c.kernelName, 0);
    kernel.kernelFunc = (args) => {
      calls.set(c.kernelName, calls.get(c.kernelName)! + 1);
      return original(args);
    };
    return () => { kernel.kernelFunc = original; };
  });
  try {
    return { result: f(), calls };
  } finally {
    restore.forEach((undo) => undo());
  }
}

test('a small MobileNetV2: input gradients on wasm (with these kernels) equal the cpu backend\'s for every ReLU rule', async () => {
  await tf.setBackend('wasm');
  const engine = await Engine.create();
  const model = await engine.model(await saveModel(buildMobileNetV2({ inputSize: 32, classes: 5, seed: 7 })));
  const graph = model.graph;
  // Large inputs so that ReLU6 saturates at 6 in places, not only at 0.
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 32 * 32 * 3 }, () => (r() * 2 - 1) * 40), [2, 32, 32, 3]);
  const grad = (rule: ReluRule) => tf.tidy(() => gradients(graph, x, {
    outputs: [graph.logitsName], wrt: graph.inputName, rule, seed: () => tf.tensor2d([[0, 0, 1, 0, 0], [1, 0, 0, 0, 0]]),
  }).gradient.dataSync().slice());
  const saturated = tf.tidy(() => {
    const { values } = gradients(graph, x, { outputs: [graph.logitsName, 'stem_relu'], wrt: graph.inputName, seed: (l) => tf.onesLike(l) });
    return values.get('stem_relu')!.equal(6).any().dataSync()[0];
  });
  assert.equal(saturated, 1, 'some ReLU6 outputs are at the cap');
  try {
    for (const rule of ['standard', 'guided', 'deconvnet'] as const) {
      await tf.setBackend('wasm');
      const { result: ours, calls } = countCalls(() => grad(rule));
      assert.ok(calls.get(INTERLEAVE_PHASES)! >= 5, `${rule}: stride-2 units use the interleave kernel`);
      if (rule !== 'deconvnet') assert.ok(calls.get(RELU_BACKWARD)! >= 30, `${rule}: ReLU6 units use the mask kernel`);
      await tf.setBackend('cpu');
      const reference = grad(rule);
      const err = relativeError(ours, reference);
      assert.ok(reference.some((v) => v !== 0), `${rule}: the gradient is not trivially zero`);
      assert.ok(err < 1e-4, `${rule}: wasm vs cpu relative error ${err}`);
    }
  } finally {
    await tf.setBackend('wasm');
    x.dispose();
  }
});

// The module reaches into tfjs-backend-wasm's private heap: an upgrade that moves it would make every
// wasm gradient ~10× slower with a single log line. This test fails first.
test('the SIMD fast path runs on the installed tfjs-backend-wasm, and says so', async () => {
  await tf.setBackend('wasm');
  assert.notEqual(heapSimd(tf.backend() as BackendWasm), null);
  assert.equal(heapSimdStatus(), 'on');
});
