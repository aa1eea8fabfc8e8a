import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterConfig } from './conv2dBackpropFilter';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwiseConv2dBackpropFilter';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwiseConv2dBackpropInput';
import { interleavePhasesConfig } from './interleavePhases';
import { maxPoolGradConfig } from './maxPoolGrad';
import { reluBackwardConfig } from './reluBackward';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum';

/** Kernels that gradients need and tfjs-backend-wasm 4.22 lacks. */
export const wasmGradientKernels: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  unsortedSegmentSumConfig,
];

/** Loupe's own kernels for its hand-written backward passes (convOps.ts), faster than chains of tfjs ops. */
export const wasmBackwardKernels: readonly tf.KernelConfig[] = [
  reluBackwardConfig,
  interleavePhasesConfig,
];

/**
 * Adds the missing kernels to the wasm backend. Idempotent; a kernel the backend already has
 * (a later tfjs-backend-wasm may ship its own) is left alone.
 */
export function registerWasmGradientKernels(): void {
  for (const config of [...wasmGradientKernels, ...wasmBackwardKernels]) {
    if (tf.getKernel(config.kernelName, 'wasm') == null) tf.registerKernel(config);
  }
  // Replaced, not added: the backend's own MaxPoolGrad computes wrong gradients.
  if (tf.getKernel(tf.MaxPoolGrad, 'wasm')?.kernelFunc !== maxPoolGradConfig.kernelFunc) {
    tf.unregisterKernel(tf.MaxPoolGrad, 'wasm');
    tf.registerKernel(maxPoolGradConfig);
  }
}
