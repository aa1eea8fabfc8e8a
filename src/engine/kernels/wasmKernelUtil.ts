import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { LoupeError } from '../../protocol/errors';

/**
 * Views of wasm heap memory. Any allocation (makeOutput, another kernel) may grow the heap and detach
 * earlier views, so callers take views only after their last allocation.
 */
export function float32View(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function requireDtype(kernel: string, info: tf.TensorInfo, name: string, allowed: readonly tf.DataType[] = ['float32']): void {
  if (!allowed.includes(info.dtype)) {
    throw new LoupeError(
      'BACKEND',
      `the wasm kernel ${kernel} supports ${allowed.join(' and ')} ${name} only, got ${info.dtype}`,
      undefined,
      'use a float32 model or choose the cpu backend',
    );
  }
}

export function requireRank4(kernel: string, shape: readonly number[], name: string): void {
  if (shape.length !== 4) {
    throw new LoupeError('BACKEND', `the wasm kernel ${kernel} expects a rank-4 NHWC ${name}, got shape [${shape.join(', ')}]`);
  }
}

export function requireShape(kernel: string, shape: readonly number[], expected: readonly number[], name: string): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new LoupeError(
      'BACKEND',
      `the wasm kernel ${kernel} got ${name} of shape [${shape.join(', ')}], expected [${expected.join(', ')}]`,
    );
  }
}
