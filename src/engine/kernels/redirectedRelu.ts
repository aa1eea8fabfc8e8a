import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { requireDtype, requireShape } from './wasmKernelUtil';

/** Loupe's own kernel (model/activations.ts `redirectedGradient`): not a tfjs op. */
export const REDIRECTED_RELU = 'LoupeRedirectedReluBackward';

export interface RedirectedReluAttrs {
  /** The upper clip (ReLU6: 6); Infinity for ReLU. */
  max: number;
}

/**
 * Lucid's redirected ReLU gradient in two passes over the saved output y, per batch element: does any of the
 * standard gradient dy·[0 < y < max] get through? If so it is the result; otherwise dy, zeroed where it would
 * push a dead input (y ≤ 0) down or a saturated one (y ≥ max) up. Why a kernel: as ~18 TF.js ops per unit
 * (boolean masks, a reduction, three where's) it cost ~20 ms per MobileNetV2 unit on wasm, 6× the step itself.
 */
function redirectedLoop(dy: Float32Array, y: Float32Array, out: Float32Array, batch: number, max: number): void {
  const per = dy.length / batch;
  for (let b = 0; b < batch; b++) {
    const start = b * per;
    const end = start + per;
    let passes = false;
    for (let i = start; i < end; i++) {
      const v = y[i]!;
      if (v > 0 && v < max && dy[i] !== 0) {
        passes = true;
        break;
      }
    }
    for (let i = start; i < end; i++) {
      const v = y[i]!;
      const g = dy[i]!;
      if (passes) out[i] = v > 0 && v < max ? g : 0;
      else out[i] = (v <= 0 && g < 0) || (v >= max && g > 0) ? 0 : g;
    }
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function check(dy: tf.TensorInfo, y: tf.TensorInfo): void {
  requireDtype(REDIRECTED_RELU, dy, 'dy');
  requireDtype(REDIRECTED_RELU, y, 'y');
  requireShape(REDIRECTED_RELU, dy.shape, y.shape, 'dy');
}

function redirectedWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  check(dy!, y!);
  const out = backend.makeOutput(dy!.shape, 'float32');
  redirectedLoop(backend.typedArrayFromHeap(dy!) as Float32Array, backend.typedArrayFromHeap(y!) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array, dy!.shape[0] ?? 1, (args.attrs as unknown as RedirectedReluAttrs).max);
  return out;
}

interface CpuBackend { data: { get(id: object): { values: unknown } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo }

function redirectedCpu(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const { dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  check(dy!, y!);
  const out = new Float32Array(tf.util.sizeFromShape(dy!.shape));
  const values = (t: tf.TensorInfo) => backend.data.get(t.dataId).values as Float32Array;
  redirectedLoop(values(dy!), values(y!), out, dy!.shape[0] ?? 1, (args.attrs as unknown as RedirectedReluAttrs).max);
  return backend.makeTensorInfo(dy!.shape, 'float32', out);
}

const configs: readonly tf.KernelConfig[] = [
  { kernelName: REDIRECTED_RELU, backendName: 'wasm', kernelFunc: redirectedWasm as unknown as tf.KernelFunc },
  { kernelName: REDIRECTED_RELU, backendName: 'cpu', kernelFunc: redirectedCpu as unknown as tf.KernelFunc },
];

/** Registers the kernel on the backends that lack it; idempotent. */
export function registerRedirectedReluKernels(): void {
  for (const config of configs) if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
}
