import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../protocol/errors';
import type { ModelFiles } from '../io/modelFiles';
import { activationByName } from './activations';
import type { BatchNormWeights } from './batchNorm';
import type { ActivationSpec, IRGraph, IRNode } from './ir';
import { finishGraph } from './head';
import { opNode } from './node';
import type { ElementwiseFn, OpSpec } from './ops';
import { WeightStore } from './weightStore';
import { checkLayersTopology } from './layersTopology';

type Config = Record<string, unknown>;

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose']);
const IDENTITY_CLASSES = new Set(['InputLayer', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise',
  'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

/** Loads a Layers model through tfjs-layers (for its deserialisation) and rebuilds it as Loupe's graph. */
export async function layersModelToGraph(files: ModelFiles): Promise<{ graph: IRGraph; model: tf.LayersModel }> {
  checkLayersTopology(files.artifacts.modelTopology, files.artifacts.weightSpecs ?? [], files.file);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: async () => files.artifacts });
  } catch (e) {
    const msg = (e as Error).message;
    const weights = /shape|weight|expected/i.test(msg);
    throw new LoupeError(weights ? 'WEIGHTS_INVALID' : 'MODEL_INVALID', `TF.js could not build the model: ${msg}`, files.file,
      weights ? 'the weights do not match the layers in model.json: re-export the model' : 'check that model.json is a TF.js Layers model');
  }
  try {
    return { graph: buildGraph(model, files.file), model };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function buildGraph(model: tf.LayersModel, file: string): IRGraph {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs`, file,
      'Loupe explains image classifiers with one image input and one class-score output');
  }
  const inputShape = model.inputs[0]!.shape;
  if (inputShape.length !== 4 || inputShape.slice(1).some((d) => d == null)) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the model's input has shape [${inputShape.join(', ')}]`, file,
      'Loupe needs a fixed-size image input [batch, height, width, channels]');
  }
  const tensors = new Map<string, tf.Tensor>();
  const nodes: IRNode[] = [];
  const opaque: string[] = [];
  const layers = layersInOrder(model);
  for (const layer of layers) {
    if (layer.inboundNodes.length > 1) {
      throw new LoupeError('UNSUPPORTED_MODEL', `layer '${layer.name}' is applied ${layer.inboundNodes.length} times (a shared layer)`, file,
        'Loupe needs each layer to be used once; unshare it in the model definition');
    }
    const className = layer.getClassName();
    const config = layer.getConfig() as Config;
    const weightNames = layer.weights.map((w, i) => {
      const key = `${layer.name}/${roleOf(className, config, i)}`;
      tensors.set(key, tf.clone(w.read()));
      return key;
    });
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    const outShape = layer.outputShape as (number | null)[];
    const activation = typeof config.activation === 'string' ? config.activation : activationLayerName(className, config);
    const base = {
      name: layer.name,
      className,
      inputs: inbound.map((l) => l.name),
      outputShape: (Array.isArray(outShape[0]) ? [] : outShape.slice(1)) as number[],
      params: layer.countParams(),
      ...(activation ? { activation } : {}),
      weightNames,
    };
    let op = nodes.length === 0 ? { op: 'input' as const } : opFor(className, config, layer.name, file);
    if (op?.op === 'elementwise') op = { ...op, operands: base.inputs.map((_, input) => ({ input })) };
    if (op) {
      nodes.push(opNode(base, op));
    } else {
      opaque.push(layer.name);
      nodes.push({
        ...base, isConv: CONV_CLASSES.has(className),
        apply: (inputs) => layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.Tensor,
      });
    }
  }
  return finishGraph({
    format: 'layers',
    name: model.name,
    inputName: model.inputs[0]!.sourceLayer.name,
    inputShape: inputShape.slice(1) as [number, number, number],
    nodes,
    outputName: model.outputs[0]!.sourceLayer.name,
    weights: new WeightStore(tensors),
    opaque,
    file,
  });
}

/** Input layer first, then the layers in topological order (a Sequential model does not list its input layer). */
export function layersInOrder(model: tf.LayersModel): tf.layers.Layer[] {
  const input = model.inputs[0]!.sourceLayer as tf.layers.Layer;
  return [input, ...model.layers.filter((l) => l !== input)];
}

function bnWeights(config: Config, name: string): BatchNormWeights {
  return {
    ...(config.scale !== false ? { gamma: `${name}/gamma` } : {}),
    ...(config.center !== false ? { beta: `${name}/beta` } : {}),
    mean: `${name}/moving_mean`, variance: `${name}/moving_variance`, epsilon: Number(config.epsilon ?? 1e-3),
  };
}

/** tfjs-layers keeps weights in build order; these are their roles per class. */
function roleOf(className: string, config: Config, index: number): string {
  const roles: Record<string, string[]> = {
    Conv2D: ['kernel', 'bias'],
    Dense: ['kernel', 'bias'],
    DepthwiseConv2D: ['depthwise_kernel', 'bias'],
    SeparableConv2D: ['depthwise_kernel', 'pointwise_kernel', 'bias'],
    BatchNormalization: [
      ...(config.scale !== false ? ['gamma'] : []), ...(config.center !== false ? ['beta'] : []),
      'moving_mean', 'moving_variance'],
  };
  return roles[className]?.[index] ?? `w${index}`;
}

function activationLayerName(className: string, config: Config): string | undefined {
  if (className === 'ReLU') return config.maxValue != null ? `relu (max ${config.maxValue})` : 'relu';
  if (className === 'LeakyReLU') return `leakyrelu (alpha ${config.alpha ?? 0.3})`;
  if (className === 'Softmax') return 'softmax';
  if (className === 'ELU') return 'elu';
  return undefined;
}

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0] ?? fallback), Number(v[1] ?? v[0] ?? fallback)];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

function convAttrs(config: Config, name: string, file: string): { strides: [number, number]; dilations: [number, number]; pad: 'same' | 'valid' } {
  if (config.dataFormat === 'channelsFirst') {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' uses channels-first data`, file, 'Loupe supports channels-last (NHWC) models');
  }
  return { strides: pair(config.strides, 1), dilations: pair(config.dilationRate, 1), pad: samePadding(config.padding, name, file) };
}

function samePadding(value: unknown, name: string, file: string): 'same' | 'valid' {
  const padding = String(value ?? 'valid');
  if (padding !== 'same' && padding !== 'valid') {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' uses padding '${padding}'`, file, "use 'same' or 'valid'");
  }
  return padding;
}

/** The op a Keras layer computes, or undefined for layers Loupe runs through tfjs-layers (opaque). */
function opFor(className: string, config: Config, name: string, file: string): OpSpec | undefined {
  if (IDENTITY_CLASSES.has(className)) return { op: 'identity' };
  const act = (): ActivationSpec => activationByName(config.activation as string | undefined, name, file);
  const bias = config.useBias !== false ? { bias: `${name}/bias` } : {};
  switch (className) {
    case 'Conv2D':
      return { op: 'conv', kernel: `${name}/kernel`, ...bias, ...convAttrs(config, name, file), depthwise: false,
        groups: Number(config.groups ?? 1), activation: act() };
    case 'DepthwiseConv2D':
      return { op: 'conv', kernel: `${name}/depthwise_kernel`, ...bias, ...convAttrs(config, name, file), depthwise: true, groups: 1, activation: act() };
    case 'SeparableConv2D':
      return { op: 'separableConv', depthwiseKernel: `${name}/depthwise_kernel`, pointwiseKernel: `${name}/pointwise_kernel`, ...bias,
        ...convAttrs(config, name, file), activation: act() };
    case 'Dense':
      return { op: 'dense', kernel: `${name}/kernel`, ...bias, activation: act() };
    case 'BatchNormalization': {
      const axis = Number(config.axis ?? -1);
      if (axis !== -1 && axis !== 3) return undefined;
      return { op: 'batchNorm', ...bnWeights(config, name) };
    }
    case 'Activation':
      return { op: 'activation', activation: act() };
    case 'ReLU': {
      if (Number(config.negativeSlope ?? 0) !== 0 || Number(config.threshold ?? 0) !== 0) return undefined;
      const max = config.maxValue == null ? undefined : Number(config.maxValue);
      const spec: ActivationSpec = max === undefined ? { kind: 'relu' } : max === 6 ? { kind: 'relu6' } : { kind: 'clippedrelu', max };
      return { op: 'activation', activation: spec };
    }
    case 'LeakyReLU':
      return { op: 'activation', activation: { kind: 'leakyrelu', alpha: Number(config.alpha ?? 0.3) } };
    case 'ELU':
      return Number(config.alpha ?? 1) === 1 ? { op: 'activation', activation: { kind: 'elu' } } : undefined;
    case 'Softmax':
      return Number(config.axis ?? -1) === -1 ? { op: 'activation', activation: { kind: 'softmax' } } : undefined;
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const size = pair(config.poolSize, 2);
      const strides = config.strides == null ? size : pair(config.strides, 1);
      return { op: 'pool', mode: className === 'MaxPooling2D' ? 'max' : 'avg', size, strides, pad: samePadding(config.padding, name, file),
        ceil: false, countIncludePad: false };
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return { op: 'globalPool', mode: className === 'GlobalAveragePooling2D' ? 'avg' : 'max', keepDims: Boolean(config.keepdims ?? config.keepDims) };
    case 'Flatten':
      return { op: 'flatten', channelsFirst: false };
    case 'Reshape':
      return { op: 'reshape', shape: (config.targetShape as number[]).map(Number) };
    case 'Add': case 'Subtract': case 'Multiply': case 'Average': case 'Maximum': case 'Minimum':
      return { op: 'elementwise', fn: MERGE_FNS[className]!, operands: [] };
    case 'Concatenate':
      return { op: 'concat', axis: Number(config.axis ?? -1) };
    case 'ZeroPadding2D': {
      const p = config.padding as number | number[] | number[][];
      const [[t, b], [l, r]] = (Array.isArray(p)
        ? (Array.isArray(p[0]) ? p : [[p[0], p[0]], [p[1], p[1]]])
        : [[p, p], [p, p]]) as [[number, number], [number, number]];
      return { op: 'pad', pads: [[t!, b!], [l!, r!]], value: 0 };
    }
    case 'Cropping2D': {
      const c = config.cropping as number[][];
      return { op: 'crop', crop: [[c[0]![0]!, c[0]![1]!], [c[1]![0]!, c[1]![1]!]] };
    }
    case 'Rescaling': {
      if (typeof (config.scale ?? 1) !== 'number' || typeof (config.offset ?? 0) !== 'number') return undefined;
      return { op: 'scale', scale: Number(config.scale ?? 1), offset: Number(config.offset ?? 0) };
    }
    default:
      return undefined;
  }
}

const MERGE_FNS: Record<string, ElementwiseFn> = { Add: 'add', Subtract: 'sub', Multiply: 'mul', Average: 'mean', Maximum: 'max', Minimum: 'min' };
