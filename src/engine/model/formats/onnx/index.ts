import * as path from 'node:path';
import { readSidecarSize, SIDECAR_NAME } from '../../../image/sidecar';
import type { ModelLoader } from '../types';
import { readOnnx } from './proto';
import { onnxToGraph } from './translate';
import { LoupeError } from '../../../../protocol/errors';
import { isWasmTrap } from '../../../backends/wasmTrap';

/**
 * ONNX files (torch.onnx.export's output): read as Loupe's graph, so every method's backward rules apply.
 * ONNX Runtime cannot give gradients of a user's model, so it is no substitute for this loader.
 */
export const onnxLoader: ModelLoader = {
  kind: 'onnx',
  async load(file) {
    const model = readOnnx(file);
    const graph = translated(file, () => onnxToGraph(model, readSidecarSize(file), path.join(path.dirname(file), SIDECAR_NAME)));
    return { graph: { ...graph, name: path.basename(file) }, fingerprintParts: model.fingerprintParts, layout: 'NCHW' };
  },
};

/**
 * The translation, with a TF.js failure while folding the graph's constants (damaged values that still
 * parse: a shape of the wrong rank) said as a damaged file, naming it, instead of an internal error.
 */
function translated<T>(file: string, translate: () => T): T {
  try {
    return translate();
  } catch (e) {
    // A trap in a wasm kernel must reach the worker as one: it restarts with a fresh backend.
    if (e instanceof LoupeError || isWasmTrap(e)) throw e;
    const detail = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    throw new LoupeError('MODEL_INVALID', `the ONNX graph's constants do not fit together: ${detail}`, file,
      'the file is damaged or was not written by an ONNX exporter: export it again');
  }
}
