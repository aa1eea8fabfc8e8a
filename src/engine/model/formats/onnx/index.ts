import * as path from 'node:path';
import { readSidecarSize, SIDECAR_NAME } from '../../../image/sidecar';
import type { ModelLoader } from '../types';
import { readOnnx } from './proto';
import { onnxToGraph } from './translate';

/**
 * ONNX files (torch.onnx.export's output): read as Loupe's graph, so every method's backward rules apply.
 * ONNX Runtime cannot give gradients of a user's model, so it is no substitute for this loader.
 */
export const onnxLoader: ModelLoader = {
  kind: 'onnx',
  async load(file) {
    const model = readOnnx(file);
    const graph = onnxToGraph(model, readSidecarSize(file), path.join(path.dirname(file), SIDECAR_NAME));
    return { graph: { ...graph, name: path.basename(file) }, fingerprintParts: model.fingerprintParts, layout: 'NCHW' };
  },
};
