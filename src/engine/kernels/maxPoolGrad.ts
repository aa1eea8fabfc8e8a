import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { requireDtype, requireRank4 } from './wasmKernelUtil';

/**
 * dx of max pooling: each output's gradient goes to the first position holding its window's maximum
 * (TensorFlow's rule). Replaces tfjs-backend-wasm 4.22's MaxPoolGrad, which returns wrong values
 * (max |difference| 0.76 against the cpu kernel on a 2×8×8×3 input), breaking training and attributions.
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const dy = args.inputs['dy']!;
  const x = args.inputs['input']!;
  requireDtype(tf.MaxPoolGrad, x, 'input');
  requireDtype(tf.MaxPoolGrad, dy, 'dy');
  requireRank4(tf.MaxPoolGrad, x.shape, 'input');
  const attrs = args.attrs ?? {};
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs['filterSize'] as [number, number] | number,
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as 'same' | 'valid' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput(x.shape, 'float32');
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * channels;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        const o = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < filterHeight; fy++) {
            const yy = y0 + fy;
            if (yy < 0 || yy >= inHeight) continue;
            for (let fx = 0; fx < filterWidth; fx++) {
              const xx = x0 + fx;
              if (xx < 0 || xx >= inWidth) continue;
              const i = xb + (yy * inWidth + xx) * channels + c;
              if (xv[i]! > best) {
                best = xv[i]!;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at]! += dyv[o + c]!;
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
