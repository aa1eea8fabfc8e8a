// Keras models read directly: Keras 3 `.keras` archives (config.json + model.weights.h5 in a zip) and
// legacy HDF5 files (`model_config` attribute + `model_weights`) from Keras 2 or 3. The config becomes the
// Keras-2-style topology tfjs-layers reads, the weights its manifest, and fromLayers builds the graph.
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import { LoupeError } from '../../../../protocol/errors';
import type { ModelFiles } from '../../../io/modelFiles';
import { readUntrusted } from '../../../io/untrusted';
import { layersModelToGraph } from '../../fromLayers';
import type { ModelLoader } from '../types';
import { readKerasArchive, ZIP_MAGIC } from './archive';
import { attrString, guard, HDF5_MAGIC, openHdf5 } from './hdf5';
import { toTfjsLayer, type TfjsLayer } from './layerTable';
import { asObject, parseKerasGraph, type KerasGraph, type Ref } from './topology';
import { keras3Weights, legacyWeights, type WeightSource } from './weights';

/** Largest Keras file Loupe reads (checked before reading). */
export const MAX_KERAS_BYTES = 1024 ** 3;
/** A model config is text: tens of KB for a CNN, a few MB for the largest Keras applications. */
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const CONFIG_ENTRY = 'config.json';
const METADATA_ENTRY = 'metadata.json';
const WEIGHTS_ENTRY = 'model.weights.h5';

interface KerasSource {
  config: unknown;
  weights: WeightSource;
  /** "Keras 3.11.3 .keras archive", for notes and messages. */
  describe: string;
}

export const kerasLoader: ModelLoader = {
  kind: 'keras',
  async load(file) {
    const bytes = readUntrusted(file, { maxBytes: MAX_KERAS_BYTES, what: 'Keras model file' });
    const source = startsWith(bytes, ZIP_MAGIC) ? await fromArchive(bytes, file)
      : startsWith(bytes, HDF5_MAGIC) ? fromLegacy(bytes, file)
        : notKeras(file);
    const { keras, layers } = readConfig(source.config, file);
    const files = artifacts(keras, layers, source.weights, file, bytes);
    const { graph, model } = await rebuild(files, keras);
    graph.format = 'keras';
    // Layers tfjs-layers runs as another class (identities, Normalization as a batch norm) keep their Keras class.
    const original = new Map(keras.layers.map((l) => [l.name, l.className]));
    for (const node of graph.nodes) node.className = original.get(node.name) ?? node.className;
    return {
      graph,
      fingerprintParts: [bytes],
      layout: 'NHWC',
      notes: [`read from a ${source.describe}`],
      release: () => model.dispose(),
    };
  },
};

/** The config as a flat graph and tfjs layers; a crafted config nested too deep is refused, not a crash. */
function readConfig(config: unknown, file: string): { keras: KerasGraph; layers: Array<{ layer: KerasGraph['layers'][number]; tfjs: TfjsLayer }> } {
  try {
    const keras = parseKerasGraph(config, file);
    return { keras, layers: keras.layers.map((l) => ({ layer: l, tfjs: toTfjsLayer(l, file) })) };
  } catch (e) {
    if (e instanceof RangeError) throw new LoupeError('MODEL_INVALID', 'has a model config nested too deeply to read', file, 'save the model again');
    throw e;
  }
}

async function fromArchive(bytes: Buffer, file: string): Promise<KerasSource> {
  const entries = await readKerasArchive(bytes, file, [CONFIG_ENTRY, METADATA_ENTRY, WEIGHTS_ENTRY]);
  const configBytes = entries.get(CONFIG_ENTRY);
  if (!configBytes) {
    throw new LoupeError('MODEL_INVALID', 'is a zip without config.json, so not a Keras 3 model', file,
      'Keras 3 writes config.json, metadata.json and model.weights.h5 into a .keras file: save the model with model.save("model.keras")');
  }
  const weightsBytes = entries.get(WEIGHTS_ENTRY);
  if (!weightsBytes) {
    throw new LoupeError('WEIGHTS_INVALID', `has no ${WEIGHTS_ENTRY} inside`, file,
      'Loupe reads .keras files whose weights are one model.weights.h5 (sharded or .npz weights are not read): save the model again');
  }
  if (configBytes.length > MAX_CONFIG_BYTES) {
    throw new LoupeError('MODEL_INVALID', `its ${CONFIG_ENTRY} is ${configBytes.length} bytes, more than a model config needs`, file);
  }
  const config = parseJson(configBytes, `${CONFIG_ENTRY} inside the .keras file`, file);
  const metadata = entries.has(METADATA_ENTRY) ? parseJson(entries.get(METADATA_ENTRY)!, METADATA_ENTRY, file) : {};
  const version = typeof (metadata as Record<string, unknown>).keras_version === 'string' ? ` ${(metadata as Record<string, string>).keras_version}` : '';
  const root = openHdf5(weightsBytes, file, `${WEIGHTS_ENTRY} inside the .keras file`);
  return { config, weights: keras3Weights(root, file, weightsBytes.length), describe: `Keras${version} .keras archive` };
}

function fromLegacy(bytes: Buffer, file: string): KerasSource {
  const root = openHdf5(bytes, file, 'the file');
  const text = guard(file, 'the file', () => attrString(root.attrs, 'model_config'));
  if (!text) {
    const keys = guard(file, 'the file', () => root.keys);
    const weightsOnly = keys.includes('layers') || keys.includes('model_weights') || attrString(root.attrs, 'layer_names') !== undefined;
    throw new LoupeError('UNSUPPORTED_MODEL',
      weightsOnly ? 'is a Keras weights file without a model config (written by save_weights)' : 'is an HDF5 file but not a Keras model (it has no model_config attribute)',
      file, 'Loupe reads models saved whole: model.save("model.keras") (Keras 3) or model.save("model.h5")');
  }
  const version = attrString(root.attrs, 'keras_version');
  return {
    config: parseJson(Buffer.from(text, 'utf8'), 'the model_config attribute', file),
    weights: legacyWeights(root, file, bytes.length),
    describe: `Keras${version ? ` ${version}` : ''} legacy HDF5 file`,
  };
}

function notKeras(file: string): never {
  throw new LoupeError('MODEL_INVALID', 'is neither a Keras 3 .keras archive (a zip file) nor a legacy Keras HDF5 file', file,
    'save the model with model.save("model.keras") (Keras 3) or model.save("model.h5")');
}

/** The tfjs-layers model.json of the Keras graph, and the weights in the manifest order it reads. */
function artifacts(keras: KerasGraph, layers: Array<{ layer: KerasGraph['layers'][number]; tfjs: TfjsLayer }>, weights: WeightSource,
  file: string, bytes: Buffer): ModelFiles {
  const node = (refs: Ref[]): unknown[] => refs.map(([name, , tensor]) => [name, 0, tensor, {}]);
  const modelTopology = {
    class_name: 'Model',
    config: {
      name: keras.name,
      layers: layers.map(({ layer, tfjs }) => ({
        class_name: tfjs.className, name: layer.name, config: tfjs.config,
        inbound_nodes: layer.inbound.length ? [node(layer.inbound)] : [],
      })),
      input_layers: keras.inputs.map(([name, , t]) => [name, 0, t]),
      output_layers: keras.outputs.map(([name, , t]) => [name, 0, t]),
    },
    keras_version: '2.15.0',
    backend: 'tensorflow',
  };
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Float32Array[] = [];
  for (const { layer, tfjs } of layers) {
    for (const w of tfjs.weights(weights.read(layer, tfjs.stored))) {
      weightSpecs.push({ name: `${layer.name}/${w.role}`, shape: w.shape, dtype: 'float32' });
      chunks.push(w.data);
    }
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const data = new Float32Array(total);
  let offset = 0;
  for (const c of chunks) { data.set(c, offset); offset += c.length; }
  return {
    file, dir: path.dirname(file), format: 'keras',
    artifacts: { modelTopology: modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'], weightSpecs, weightData: data.buffer },
    fingerprintParts: [bytes],
  };
}

/** layersModelToGraph, with its TF.js messages replaced by ones about the Keras file where Loupe can tell more. */
async function rebuild(files: ModelFiles, keras: KerasGraph): ReturnType<typeof layersModelToGraph> {
  try {
    return await layersModelToGraph(files);
  } catch (e) {
    throw (await diagnose(files, keras)) ?? e;
  }
}

/** On the error path only: builds the layers without weights and compares the shapes they need with the file's. */
async function diagnose(files: ModelFiles, keras: KerasGraph): Promise<LoupeError | undefined> {
  let built: tf.LayersModel;
  try {
    built = await tf.models.modelFromJSON({ modelTopology: files.artifacts.modelTopology as tf.io.ModelArtifacts['modelTopology'] } as never);
  } catch (e) {
    return new LoupeError('UNSUPPORTED_MODEL', `TF.js could not build the model's layers: ${(e as Error).message}`, files.file,
      `the model uses ${[...new Set(keras.layers.map((l) => l.className))].join(', ')}`);
  }
  try {
    const specs = new Map((files.artifacts.weightSpecs ?? []).map((s) => [s.name, s.shape]));
    for (const layer of keras.layers) {
      for (const w of built.getLayer(layer.name).weights) {
        const role = w.originalName.split('/').pop();
        const have = specs.get(w.originalName);
        if (!have) {
          return new LoupeError('WEIGHTS_INVALID', `the file holds no weight '${role}' for layer '${layer.name}' (${layer.className})`, files.file,
            'the weights do not belong to this model config: save the model again');
        }
        if (have.join(',') !== w.shape.join(',')) {
          return new LoupeError('WEIGHTS_INVALID',
            `weight '${role}' of layer '${layer.name}' (${layer.className}) has shape [${have.join(', ')}] in the file; the layer needs [${w.shape.join(', ')}]`,
            files.file, 'the weights do not belong to this model config: save the model again');
        }
      }
    }
    return undefined;
  } finally {
    built.dispose();
  }
}

function parseJson(bytes: Buffer, what: string, file: string): unknown {
  try {
    return asObject(JSON.parse(bytes.toString('utf8')), what, file);
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    throw new LoupeError('MODEL_INVALID', `${what} is not valid JSON: ${(e as Error).message}`, file, 'save the model again');
  }
}

function startsWith(bytes: Buffer, magic: Buffer): boolean {
  return bytes.length >= magic.length && bytes.subarray(0, magic.length).equals(magic);
}
