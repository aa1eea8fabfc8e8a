/**
 * The inner products every CAV of a layer needs, computed once: K = A Aᵀ over the set images'
 * flattened activations A (n × D), and G Aᵀ, the class images' logit gradients G (nClass × D) against
 * them. D is split into chunks so the backend's memory stays bounded; each chunk is one matMul on the
 * backend (its fast path is [n, c] × [c, n] with the right-hand side materialised transposed), summed
 * in float64 here.
 */
import * as tf from '@tensorflow/tfjs';

/** Values of one chunk's operands at most (two copies of the n × c block, plus G's block). */
const CHUNK_VALUES = 8 * 1024 * 1024;

export interface LayerProducts {
  /** n × n, row-major. */
  gram: Float64Array;
  /** nClass × n, row-major: cross[k·n + j] = g_k · a_j. */
  cross: Float64Array;
}

export function layerProducts(acts: Float32Array, n: number, grads: Float32Array, nClass: number, dims: number): LayerProducts {
  const gram = new Float64Array(n * n);
  const cross = new Float64Array(nClass * n);
  const width = Math.max(1, Math.min(dims, Math.floor(CHUNK_VALUES / (2 * n + nClass))));
  const block = new Float32Array(n * width);
  const blockT = new Float32Array(width * n);
  const gBlock = new Float32Array(nClass * width);
  for (let k0 = 0; k0 < dims; k0 += width) {
    const c = Math.min(width, dims - k0);
    for (let i = 0; i < n; i++) {
      const row = acts.subarray(i * dims + k0, i * dims + k0 + c);
      block.set(row, i * c);
      for (let k = 0; k < c; k++) blockT[k * n + i] = row[k]!;
    }
    for (let i = 0; i < nClass; i++) gBlock.set(grads.subarray(i * dims + k0, i * dims + k0 + c), i * c);
    const [kk, gk] = tf.tidy(() => {
      const right = tf.tensor2d(blockT.subarray(0, c * n), [c, n]);
      return [
        tf.matMul(tf.tensor2d(block.subarray(0, n * c), [n, c]), right),
        tf.matMul(tf.tensor2d(gBlock.subarray(0, nClass * c), [nClass, c]), right),
      ];
    });
    const kv = kk.dataSync();
    const gv = gk.dataSync();
    tf.dispose([kk, gk]);
    for (let i = 0; i < gram.length; i++) gram[i]! += kv[i]!;
    for (let i = 0; i < cross.length; i++) cross[i]! += gv[i]!;
  }
  // The two triangles are summed in different orders by the backend: make K exactly symmetric.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const s = (gram[i * n + j]! + gram[j * n + i]!) / 2;
      gram[i * n + j] = s;
      gram[j * n + i] = s;
    }
  }
  return { gram, cross };
}
