import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { ModelDescription, ModelFormat } from '../../protocol/types';
import { LoupeError } from '../errors';
import { readSidecar } from '../image/sidecar';
import { readModelFiles, type ModelFiles } from '../io/modelFiles';
import { camHead, defaultCamLayer } from './camHead';
import { graphModelToGraph } from './fromGraph';
import { layersModelToGraph } from './fromLayers';
import { gradients } from './executor';
import { toLayerInfo, type IRGraph } from './ir';

export interface LoadedModel {
  graph: IRGraph;
  description: ModelDescription;
  /** sha256 of model.json and every shard: keys results cached on disk. */
  fingerprint: string;
  dispose(): void;
}

/** One way of turning files on disk into Loupe's graph; ONNX or Keras importers add an entry here. */
interface ModelLoader {
  format: ModelFormat;
  load(files: ModelFiles): Promise<{ graph: IRGraph; release?: () => void }>;
}

const LOADERS: ModelLoader[] = [
  {
    format: 'layers',
    load: async (files) => {
      const { graph, model } = await layersModelToGraph(files);
      return { graph, release: () => model.dispose() };
    },
  },
  { format: 'graph', load: async (files) => ({ graph: graphModelToGraph(files) }) },
];

export async function loadModel(modelJsonPath: string): Promise<LoadedModel> {
  const files = readModelFiles(modelJsonPath);
  const loader = LOADERS.find((l) => l.format === files.format);
  if (!loader) throw new LoupeError('UNSUPPORTED_MODEL', `no loader for the '${files.format}' format`, files.file);
  const { graph, release } = await loader.load(files);
  try {
    const sidecar = await readSidecar(files.file, graph.inputShape, graph.numClasses);
    const hash = createHash('sha256');
    for (const part of files.fingerprintParts) hash.update(part);
    const layers = graph.nodes.map(toLayerInfo);
    const cam = camHead(graph);
    const camLayer = defaultCamLayer(graph);
    const description: ModelDescription = {
      path: files.file,
      format: files.format,
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
