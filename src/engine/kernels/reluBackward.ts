import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, heapSimd } from './heapSimd';
import { float32View, requireDtype, requireShape } from './wasmKernelUtil';

/** Loupe's own kernel: not a tfjs op, so no other backend or model graph ever names it. */
export const RELU_BACKWARD = 'LoupeReluBackward';

export interface ReluBackwardAttrs {
  /** relu: slope 1 for y > 0; relu6: 1 for 0 < y < 6; leakyrelu: 1 for y > 0, else alpha. */
  kind: 'relu' | 'relu6' | 'leakyrelu';
  alpha: number;
  /** Guided backprop: also zero where dy ≤ 0. */
  guided: boolean;
}

/**
 * d(pre-activation) = dy · slope(y) [· step(dy)] in one pass over the saved output y, where tfjs ops
 * take five (step, sub, step, mul, mul for ReLU6), as one SIMD loop (heapSimd.ts). The arithmetic is
 * that of those ops: products with a 0/1 (or alpha) factor, and a NaN y or dy gives a NaN factor as
 * tf.step does, so NaN and ±Inf propagate alike.
 */
function reluBackward(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const dy = args.inputs['dy']!;
  const y = args.inputs['y']!;
  const { kind, alpha, guided } = args.attrs as unknown as ReluBackwardAttrs;
  requireDtype(RELU_BACKWARD, dy, 'dy');
  requireDtype(RELU_BACKWARD, y, 'y');
  requireShape(RELU_BACKWARD, dy.shape, y.shape, 'dy');
  const out = backend.makeOutput(dy.shape, 'float32');
  const n = tf.util.sizeFromShape(dy.shape);
  // float32 like the attribute tfjs would hand its own kernels, so products round alike
  const low = kind === 'leakyrelu' ? Math.fround(alpha) : 0;
  const high = kind === 'relu6' ? 6 : Number.NaN;
  const simd = heapSimd(backend);
  const vectorised = simd ? n - (n % 4) : 0;
  if (simd && vectorised > 0) {
    simd.reluBackward(heapOffset(backend, dy), heapOffset(backend, y), heapOffset(backend, out), vectorised * 4, low, high, guided ? 1 : 0);
  }
  const o = float32View(backend, out);
  const d = float32View(backend, dy);
  const v = float32View(backend, y);
  for (let i = vectorised; i < n; i++) {
    const yi = v[i]!;
    const g = d[i]!;
    const slope = yi > 0 ? (yi >= high ? 0 : 1) : yi <= 0 ? low : Number.NaN;
    o[i] = guided ? g * slope * (g > 0 ? 1 : g <= 0 ? 0 : Number.NaN) : g * slope;
  }
  return out;
}

export const reluBackwardConfig: tf.KernelConfig = {
  kernelName: RELU_BACKWARD,
  backendName: 'wasm',
  kernelFunc: reluBackward as unknown as tf.KernelFunc,
};
