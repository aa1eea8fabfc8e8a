import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import type { ModelDescription } from '../../protocol/types';
import { LoupeError } from '../errors';
import { readSidecar } from '../image/sidecar';
import { modelFileKind } from '../../protocol/formats';
import { camHead, defaultCamLayer } from './camHead';
import { gradients } from './executor';
import { kerasLoader } from './formats/keras';
import { tfjsLoader } from './formats/tfjs';
import type { ModelLoader } from './formats/types';
import { toLayerInfo, type IRGraph } from './ir';

export interface LoadedModel {
  graph: IRGraph;
  description: ModelDescription;
  /** sha256 of model.json and every shard: keys results cached on disk. */
  fingerprint: string;
  dispose(): void;
}

/** The model file formats, one loader each (formats/). */
const LOADERS: ModelLoader[] = [tfjsLoader, kerasLoader];

export async function loadModel(modelPath: string): Promise<LoadedModel> {
  const file = path.resolve(modelPath);
  const kind = modelFileKind(file);
  if (kind === 'checkpoint') {
    throw new LoupeError('UNSUPPORTED_MODEL', 'is a PyTorch checkpoint, which Loupe does not read (unpickling it would run code)', file,
      'export the model with torch.onnx.export(model, example_input, "model.onnx") and open the .onnx file');
  }
  const loader = LOADERS.find((l) => l.kind === kind);
  if (!loader) {
    throw new LoupeError('UNSUPPORTED_MODEL', 'is not a model file Loupe reads', file,
      'Loupe reads TF.js model.json, ONNX (.onnx) and Keras (.keras, .h5) models');
  }
  const { graph, fingerprintParts, layout, notes, release } = await loader.load(file);
  try {
    const sidecar = await readSidecar(file, graph.inputShape, graph.numClasses);
    const hash = createHash('sha256');
    for (const part of fingerprintParts) hash.update(part);
    const layers = graph.nodes.map(toLayerInfo);
    const cam = camHead(graph);
    const camLayer = defaultCamLayer(graph);
    const description: ModelDescription = {
      path: file,
      format: graph.format,
      name: graph.name,
      inputShape: graph.inputShape,
      numClasses: graph.numClasses,
      head: graph.head,
      layers,
      ...(camLayer ? { defaultCamLayer: camLayer } : {}),
      cam: cam.ok
        ? { available: true, reason: `global average pooling of '${cam.layer}' feeds the dense layer '${cam.dense}'`, layer: cam.layer }
        : { available: false, reason: cam.reason },
      labels: sidecar.labels,
      preprocessing: sidecar.preprocessing,
      totalParams: layers.reduce((s, l) => s + l.params, 0),
      layout,
      ...(notes?.length ? { notes } : {}),
    };
    warmUp(graph);
    return {
      graph,
      description,
      fingerprint: hash.digest('hex'),
      dispose: () => {
        graph.weights.dispose();
        release?.();
      },
    };
  } catch (e) {
    graph.weights.dispose();
    release?.();
    throw e;
  }
}


/**
 * One input gradient on a blank image at load time: it builds the folded and flipped kernels and lets
 * the backend prepare its convolution operators. Without it the first gradient of a session takes several
 * times longer, as one uninterruptible step that a cancel cannot stop.
 */
function warmUp(graph: IRGraph): void {
  try {
    tf.tidy(() => {
      gradients(graph, tf.zeros([1, ...graph.inputShape]), {
        outputs: [graph.logitsName], wrt: graph.inputName, seed: (logits) => tf.onesLike(logits),
      });
    });
  } catch {
    // A model whose gradient cannot run still describes and predicts; each analysis reports its own error.
  }
}
