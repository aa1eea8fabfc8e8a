import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend';

/**
 * Training runs on wasm with the gradient kernels Loupe's engine registers (the cpu backend needs
 * seconds per image for these networks).
 */
export async function useWasmForTraining(): Promise<void> {
  await initBackend('wasm');
  console.log(`training on the ${tf.getBackend()} backend`);
}
