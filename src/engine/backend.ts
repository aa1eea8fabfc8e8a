import * as tf from '@tensorflow/tfjs';
import type { BackendName, BackendPreference } from '../protocol/types';
import { LoupeError } from '../protocol/errors';
import { registerWasmGradientKernels } from './kernels';

type TfjsBackend = Exclude<BackendName, 'onnxruntime'>;
let chosen: TfjsBackend | undefined;

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
 * Selects TF.js's backend: wasm, else cpu. TF.js runs the passes ONNX Runtime does not (and every
 * pass when it is absent), and the tensor work around them. A preference names one backend and fails
 * loudly when it is missing instead of silently running slower.
 */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<TfjsBackend> {
  const wanted = preference === 'auto' || preference === 'onnxruntime' ? undefined : preference;
  if (chosen && (!wanted || wanted === chosen)) return chosen;
  const order: TfjsBackend[] = wanted ? [wanted] : ['wasm', 'cpu'];
  for (const name of order) {
    const ok = name === 'wasm' ? await tryWasm() : await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      if (!wanted && name === 'cpu') console.warn('loupe: the wasm backend could not start; running TF.js on the slow cpu backend');
      chosen = name;
      return name;
    }
  }
  throw new LoupeError('BACKEND', `the TF.js backend '${preference}' is not available`, undefined, 'choose backend auto');
}

export function currentBackend(): TfjsBackend {
  return (chosen ?? tf.getBackend()) as TfjsBackend;
}
