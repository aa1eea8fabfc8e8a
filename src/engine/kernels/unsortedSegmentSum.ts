import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { requireDtype, requireShape } from './wasmKernelUtil';

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; the gradient of gather. Ids outside [0, numSegments)
 * are dropped, as the cpu backend does.
 */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x']!;
  const ids = args.inputs['segmentIds']!;
  const numSegments = Number(args.attrs?.['numSegments']);
  requireDtype(tf.UnsortedSegmentSum, x, 'x', ['float32', 'int32']);
  requireDtype(tf.UnsortedSegmentSum, ids, 'segmentIds', ['int32', 'float32']);
  const idRank = ids.shape.length;
  requireShape(tf.UnsortedSegmentSum, x.shape.slice(0, idRank), ids.shape, 'leading dimensions of x');
  const innerShape = x.shape.slice(idRank);
  const inner = tf.util.sizeFromShape(innerShape);
  const count = tf.util.sizeFromShape(ids.shape);

  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const outV = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xV = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const idV = backend.typedArrayFromHeap(ids);
  outV.fill(0);
  for (let i = 0; i < count; i++) {
    const s = idV[i]!;
    if (!(s >= 0 && s < numSegments)) continue;
    const o = s * inner;
    const xo = i * inner;
    for (let j = 0; j < inner; j++) outV[o + j]! += xV[xo + j]!;
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
