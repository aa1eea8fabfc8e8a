import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import type { ModelDescription } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';
import { readSidecar } from '../image/sidecar';
import { modelFileKind } from '../../protocol/formats';
import { camHead, defaultCamLayer } from './camHead';
import { gradients, runGraph } from './executor';
import { kerasLoader } from './formats/keras';
import { onnxLoader } from './formats/onnx';
import { tfjsLoader } from './formats/tfjs';
import type { ModelLoader } from './formats/types';
import { toLayerInfo, type IRGraph } from './ir';
import { currentBackend } from '../backend';
import { NotCompilable } from '../backends/onnxruntime/forward';
import { OrtPasses, type OrtModule } from '../backends/onnxruntime/ortPasses';
import { tfjsPasses, type Passes } from '../passes';

export interface LoadedModel {
  graph: IRGraph;
  /** Where the model's forward and backward passes run (ONNX Runtime when it can, else TF.js). */
  passes: Passes;
  description: ModelDescription;
  /** sha256 of model.json and every shard: keys results cached on disk. */
  fingerprint: string;
  dispose(): void;
}

/** The model file formats, one loader each (formats/). */
const LOADERS: ModelLoader[] = [tfjsLoader, onnxLoader, kerasLoader];

export interface LoadOptions {
  /** ONNX Runtime's module, when the engine runs passes on it (else TF.js runs them). */
  onnxRuntime?: OrtModule;
}

export async function loadModel(modelPath: string, options: LoadOptions = {}): Promise<LoadedModel> {
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
    checkFiniteWeights(graph, file);
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
      ...(graph.aliases && Object.keys(graph.aliases).length ? { moduleOutputs: graph.aliases } : {}),
    };
    const passes = await choosePasses(graph, options);
    if (!runsOnOrt(passes)) {
      refuseUnequalStrides(graph, file, passes);
      checkForward(graph, file, passes);
    }
    if (passes.note) description.notes = [...(description.notes ?? []), passes.note];
    return {
      graph,
      passes,
      description,
      fingerprint: hash.digest('hex'),
      dispose: () => {
        passes.dispose();
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
 * One forward pass on a blank image on TF.js: a graph whose shapes do not fit (a damaged file the loader
 * could still translate) fails here, as an error naming the file, instead of inside every analysis.
 */
function checkForward(graph: IRGraph, file: string, passes: Passes): void {
  try {
    tf.tidy(() => { runGraph(graph, tf.zeros([1, ...graph.inputShape]), { outputs: [graph.logitsName] }); });
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    passes.dispose();
    throw new LoupeError('MODEL_INVALID', `the model does not run on a ${graph.inputShape.join('×')} input: ${(e as Error).message}`, file,
      'the file is damaged or uses layers in a way Loupe does not support: export it again');
  }
}

function runsOnOrt(passes: Passes): boolean {
  return passes instanceof OrtPasses;
}

/** TF.js input gradients of a strided convolution need equal strides: said at load, naming the layer. */
function refuseUnequalStrides(graph: IRGraph, file: string, passes: Passes): void {
  const node = graph.nodes.find((n) => (n.op?.op === 'conv' || n.op?.op === 'separableConv') && n.op.strides[0] !== n.op.strides[1]);
  if (!node || !node.op || !('strides' in node.op)) return;
  passes.dispose();
  throw new LoupeError('UNSUPPORTED_MODEL', `layer '${node.name}' convolves with strides ${node.op.strides.join('×')}; Loupe's gradients on TF.js need equal strides`, file,
    'use equal strides along height and width');
}

/** A NaN or infinity in a weight turns every map into NaN: refused at load, naming the tensor. */
function checkFiniteWeights(graph: IRGraph, file: string): void {
  for (const name of graph.weights.names()) {
    const t = graph.weights.get(name);
    if (t.dtype !== 'float32') continue;
    const values = t.dataSync() as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new LoupeError('WEIGHTS_INVALID', `the weight '${name}' holds ${values[i]} at index ${i}`, file,
          'every analysis of this model would be NaN: fix the training run (or the export) that produced it');
      }
    }
  }
}

/**
 * ONNX Runtime when the engine has it and it can run this model's graph, else TF.js (and why, said in
 * the model's notes). The sessions a first explanation needs are built now, so its first map is fast.
 */
async function choosePasses(graph: IRGraph, options: LoadOptions): Promise<Passes> {
  const tfjs = currentBackend();
  if (options.onnxRuntime) {
    const ort = new OrtPasses(options.onnxRuntime, graph);
    try {
      await ort.prepare({ kind: 'forward', outputs: [graph.logitsName] }, { kind: 'class', rule: 'standard', target: 'logit', taps: [] });
      return ort;
    } catch (e) {
      ort.dispose();
      const reason = e instanceof NotCompilable ? e.message : `ONNX Runtime refused the generated graph: ${(e as Error).message.split('\n')[0]}`;
      console.warn(`loupe: ${graph.name}: ${reason}; running it on TF.js (${tfjs})`);
      warmUp(graph);
      return tfjsPasses(graph, tfjs, `ONNX Runtime cannot run this model (${reason}): its passes run on TF.js (${tfjs}), slower`);
    }
  }
  warmUp(graph);
  return tfjsPasses(graph, tfjs);
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
