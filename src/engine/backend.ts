import * as tf from '@tensorflow/tfjs';
import type { BackendName, BackendPreference } from '../protocol/types';
import { LoupeError } from './errors';
import { registerWasmGradientKernels } from './kernels';

let chosen: BackendName | undefined;

/** tfjs-node is an optional accelerator: its install needs a download that may have failed. */
function tryLoadTensorflow(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return tf.findBackend('tensorflow') != null || tf.engine().registryFactory['tensorflow'] != null;
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return false;
    registerWasmGradientKernels();
    return true;
  } catch {
    return false;
  }
}

/**
 * Selects the fastest backend present: tfjs-node, else wasm, else cpu.
 * A preference names one backend and fails loudly when it is missing instead of silently running slower.
 */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<BackendName> {
  if (chosen && (preference === 'auto' || preference === chosen)) return chosen;
  const order: BackendName[] = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  for (const name of order) {
    let ok = false;
    if (name === 'tensorflow') ok = tryLoadTensorflow() && (await tf.setBackend('tensorflow'));
    else if (name === 'wasm') ok = await tryWasm();
    else ok = await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      if (preference === 'auto' && name === 'cpu') {
        console.warn('loupe: neither @tensorflow/tfjs-node nor the wasm backend could start; running on the slow cpu backend');
      }
      chosen = name;
      return name;
    }
  }
  throw new LoupeError(
    'BACKEND',
    `the TF.js backend '${preference}' is not available`,
    undefined,
    preference === 'tensorflow'
      ? 'install @tensorflow/tfjs-node (needs internet for libtensorflow) or choose auto'
      : 'choose backend auto',
  );
}

export function currentBackend(): BackendName {
  return (chosen ?? tf.getBackend()) as BackendName;
}
