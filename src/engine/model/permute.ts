import * as tf from '@tensorflow/tfjs';

/** Transposes a row-major array of shape `dims` by `perm` (as numpy.transpose), on TF.js's kernels. */
export function permute(data: ArrayLike<number>, dims: number[], perm: number[]): Float32Array {
  const t = tf.tidy(() => tf.tensor(data instanceof Float32Array ? data : Float32Array.from(data), dims, 'float32').transpose(perm));
  try {
    return Float32Array.from(t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}
