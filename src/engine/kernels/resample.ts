import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { requireDtype, requireRank4 } from './wasmKernelUtil';

/** Loupe's own kernel (featureVis/resample.ts): not a tfjs op, so no model graph ever names it. */
export const RESAMPLE = 'LoupeResample';

export interface ResampleAttrs {
  /** Spatial size of the output: outH × outW (forward) or inH × inW (transpose). */
  height: number;
  width: number;
  /** Taps per table row (4 for bilinear). */
  taps: number;
  /** false: out[b, p] = Σ_k w[p,k] · x[b, idx[p,k]]; true: the transpose, out[b, idx[p,k]] += w[p,k] · x[b, p]. */
  transpose: boolean;
}

/**
 * The sparse linear map of a resampling table on NHWC images, in one pass over the table. Why a kernel:
 * as gather + multiply + sum (and unsorted-segment-sum for the transpose) on wasm the 224×224 resize took
 * ~25 ms each way, where this loop takes ~1 ms. Indices outside the image (≥ its pixel count) read zero.
 */
export function resampleLoop(x: Float32Array, xShape: number[], index: Int32Array, weight: Float32Array, out: Float32Array,
  attrs: ResampleAttrs, range?: { from: number; to: number }): void {
  const [batch, h, w, c] = xShape as [number, number, number, number];
  const inPixels = h * w;
  const outPixels = attrs.height * attrs.width;
  const { taps } = attrs;
  if (!attrs.transpose) {
    // Gather: each output pixel sums its taps in registers, then is written once (pixels `range` of each image
    // when given: two threads share the work).
    const rows = index.length / taps;
    for (let b = 0; b < batch; b++) {
      const xo = b * inPixels * c;
      const oo = b * outPixels * c;
      for (let p = range?.from ?? 0, end = range?.to ?? rows; p < end; p++) {
        if (c === 3) {
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          for (let k = p * taps, end = k + taps; k < end; k++) {
            const i = index[k]!;
            if (i >= inPixels) continue;
            const wt = weight[k]!;
            const q = xo + i * 3;
            s0 += wt * x[q]!;
            s1 += wt * x[q + 1]!;
            s2 += wt * x[q + 2]!;
          }
          out[oo + p * 3] = s0;
          out[oo + p * 3 + 1] = s1;
          out[oo + p * 3 + 2] = s2;
        } else {
          for (let ch = 0; ch < c; ch++) {
            let sum = 0;
            for (let k = p * taps, end = k + taps; k < end; k++) {
              const i = index[k]!;
              if (i < inPixels) sum += weight[k]! * x[xo + i * c + ch]!;
            }
            out[oo + p * c + ch] = sum;
          }
        }
      }
    }
    return;
  }
  // Transpose: each input pixel (a row of the table) scatters onto its taps.
  out.fill(0);
  const rows = inPixels; // the table's outputs are this input's pixels
  for (let b = 0; b < batch; b++) {
    const xo = b * rows * c;
    const oo = b * outPixels * c;
    for (let p = 0; p < rows; p++) {
      const q = xo + p * c;
      if (c === 3) {
        // RGB unrolled (as the gather above): the transpose runs every feature-visualisation step.
        const x0 = x[q]!;
        const x1 = x[q + 1]!;
        const x2 = x[q + 2]!;
        if (x0 === 0 && x1 === 0 && x2 === 0) continue;
        for (let k = p * taps, end = k + taps; k < end; k++) {
          const i = index[k]!;
          if (i >= outPixels) continue;
          const wt = weight[k]!;
          const o = oo + i * 3;
          out[o]! += wt * x0;
          out[o + 1]! += wt * x1;
          out[o + 2]! += wt * x2;
        }
        continue;
      }
      for (let k = p * taps, end = k + taps; k < end; k++) {
        const i = index[k]!;
        if (i >= outPixels) continue;
        const wt = weight[k]!;
        const o = oo + i * c;
        for (let ch = 0; ch < c; ch++) out[o + ch]! += wt * x[q + ch]!;
      }
    }
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function outShape(x: tf.TensorInfo, attrs: ResampleAttrs): number[] {
  return [x.shape[0]!, attrs.height, attrs.width, x.shape[3]!];
}

function resampleWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, index, weight } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as ResampleAttrs;
  requireDtype(RESAMPLE, x!, 'x');
  requireRank4(RESAMPLE, x!.shape, 'x');
  const out = backend.makeOutput(outShape(x!, attrs), 'float32');
  // Views only after the last allocation (makeOutput may grow the heap).
  resampleLoop(backend.typedArrayFromHeap(x!) as Float32Array, x!.shape, backend.typedArrayFromHeap(index!) as Int32Array,
    backend.typedArrayFromHeap(weight!) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, attrs);
  return out;
}

interface CpuBackend { data: { get(id: object): { values: unknown } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo }

function resampleCpu(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const { x, index, weight } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as ResampleAttrs;
  const shape = outShape(x!, attrs);
  const out = new Float32Array(tf.util.sizeFromShape(shape));
  const values = (t: tf.TensorInfo) => backend.data.get(t.dataId).values;
  resampleLoop(values(x!) as Float32Array, x!.shape, values(index!) as Int32Array, values(weight!) as Float32Array, out, attrs);
  return backend.makeTensorInfo(shape, 'float32', out);
}

export const resampleConfigs: readonly tf.KernelConfig[] = [
  { kernelName: RESAMPLE, backendName: 'wasm', kernelFunc: resampleWasm as unknown as tf.KernelFunc },
  { kernelName: RESAMPLE, backendName: 'cpu', kernelFunc: resampleCpu as unknown as tf.KernelFunc },
];

/** Registers the kernel on the backends that lack it; idempotent. */
export function registerResampleKernels(): void {
  for (const config of resampleConfigs) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
}
