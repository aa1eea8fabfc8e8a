import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../errors';
import type { ModelFiles } from '../io/modelFiles';
import { activationByName } from './activations';
import { batchNormAffine, type BatchNormWeights } from './batchNorm';
import { avgPool, conv2d, depthwiseConv2d, type ConvAttrs, type Padding } from './convOps';
import type { ActivationSpec, ExecContext, FusionInfo, IRGraph, IRNode } from './ir';
import { finishGraph } from './head';
import { WeightStore } from './weightStore';

type Config = Record<string, unknown>;
type Apply = (inputs: tf.Tensor[], ctx: ExecContext) => tf.Tensor;

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose']);
const IDENTITY_CLASSES = new Set(['InputLayer', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise',
  'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

/** Loads a Layers model through tfjs-layers (for its deserialisation) and rebuilds it as Loupe's graph. */
export async function layersModelToGraph(files: ModelFiles): Promise<{ graph: IRGraph; model: tf.LayersModel }> {
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
    let apply = applyFor(className, config, layer.name, file);
    if (!apply) {
      apply = (inputs) => layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.Tensor;
      opaque.push(layer.name);
    }
    const outShape = layer.outputShape as (number | null)[];
    const activation = typeof config.activation === 'string' ? config.activation : activationLayerName(className, config);
    nodes.push({
      name: layer.name,
      className,
      inputs: inbound.map((l) => l.name),
      outputShape: (Array.isArray(outShape[0]) ? [] : outShape.slice(1)) as number[],
      params: layer.countParams(),
      ...(activation ? { activation } : {}),
      isConv: CONV_CLASSES.has(className),
      weightNames,
      apply,
      ...(opaque.includes(layer.name) ? {} : fusionFor(className, config, layer.name, file)),
    });
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

/** How the executor may fuse this layer with its neighbours (see executor.ts). */
function fusionFor(className: string, config: Config, name: string, file: string): { fusion?: FusionInfo } {
  switch (className) {
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const depthwise = className === 'DepthwiseConv2D';
      return {
        fusion: {
          role: 'conv', depthwise, kernel: `${name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`,
          ...(config.useBias !== false ? { bias: `${name}/bias` } : {}),
          attrs: convAttrs(config, name, file), activation: activationByName(config.activation as string | undefined, name, file),
        },
      };
    }
    case 'BatchNormalization': {
      const axis = Number(config.axis ?? -1);
      if (axis !== -1 && axis !== 3) return {};
      const weights = bnWeights(config, name);
      return { fusion: { role: 'affine', affine: (store) => batchNormAffine(store, name, weights) } };
    }
    case 'ReLU': {
      const max = config.maxValue == null ? undefined : Number(config.maxValue);
      if (max !== undefined && max !== 6) return {};
      return { fusion: { role: 'activation', activation: { kind: max === 6 ? 'relu6' : 'relu' } } };
    }
    case 'LeakyReLU':
      return { fusion: { role: 'activation', activation: { kind: 'leakyrelu', alpha: Number(config.alpha ?? 0.3) } } };
    case 'Activation':
      return { fusion: { role: 'activation', activation: activationByName(config.activation as string | undefined, name, file) } };
    default:
      return {};
  }
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

function convAttrs(config: Config, name: string, file: string): ConvAttrs {
  if (config.dataFormat === 'channelsFirst') {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' uses channels-first data`, file, 'Loupe supports channels-last (NHWC) models');
  }
  const padding = String(config.padding ?? 'valid');
  if (padding !== 'same' && padding !== 'valid') {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' uses padding '${padding}'`, file, "use 'same' or 'valid'");
  }
  return { strides: pair(config.strides, 1), dilations: pair(config.dilationRate, 1), pad: padding as Padding };
}

function applyFor(className: string, config: Config, name: string, file: string): Apply | undefined {
  if (IDENTITY_CLASSES.has(className)) return ([x]) => x!;
  const act = (): ActivationSpec => activationByName(config.activation as string | undefined, name, file);
  const bias = (y: tf.Tensor, ctx: ExecContext) => (config.useBias !== false ? tf.add(y, ctx.weights.get(`${name}/bias`)) : y);
  switch (className) {
    case 'Conv2D': {
      const attrs = convAttrs(config, name, file);
      const spec = act();
      return ([x], ctx) => ctx.activation(bias(conv2d(x as tf.Tensor4D, ctx.weights, `${name}/kernel`, attrs), ctx), spec);
    }
    case 'DepthwiseConv2D': {
      const attrs = convAttrs(config, name, file);
      const spec = act();
      return ([x], ctx) => ctx.activation(bias(depthwiseConv2d(x as tf.Tensor4D, ctx.weights, `${name}/depthwise_kernel`, attrs), ctx), spec);
    }
    case 'SeparableConv2D': {
      const attrs = convAttrs(config, name, file);
      const spec = act();
      const pointwise: ConvAttrs = { strides: [1, 1], dilations: [1, 1], pad: 'valid' };
      return ([x], ctx) => {
        const dw = depthwiseConv2d(x as tf.Tensor4D, ctx.weights, `${name}/depthwise_kernel`, attrs);
        return ctx.activation(bias(conv2d(dw, ctx.weights, `${name}/pointwise_kernel`, pointwise), ctx), spec);
      };
    }
    case 'Dense': {
      const spec = act();
      return ([x], ctx) => {
        const kernel = ctx.weights.get(`${name}/kernel`) as tf.Tensor2D;
        const flat = x!.rank === 2 ? (x as tf.Tensor2D) : x!.reshape([-1, x!.shape[x!.rank - 1]!]) as tf.Tensor2D;
        let y: tf.Tensor = bias(tf.matMul(flat, kernel), ctx);
        if (x!.rank !== 2) y = y.reshape([...x!.shape.slice(0, -1), kernel.shape[1]]);
        return ctx.activation(y, spec);
      };
    }
    case 'BatchNormalization': {
      const axis = Number(config.axis ?? -1);
      if (axis !== -1 && axis !== 3) return undefined;
      const weights = bnWeights(config, name);
      return ([x], ctx) => {
        const { scale, offset } = batchNormAffine(ctx.weights, name, weights);
        return tf.add(tf.mul(x!, scale), offset);
      };
    }
    case 'Activation': {
      const spec = act();
      return ([x], ctx) => ctx.activation(x!, spec);
    }
    case 'ReLU': {
      const max = config.maxValue == null ? undefined : Number(config.maxValue);
      const spec: ActivationSpec = max == null ? { kind: 'relu' } : max === 6 ? { kind: 'relu6' } : { kind: 'clippedrelu', max };
      return ([x], ctx) => ctx.activation(x!, spec);
    }
    case 'LeakyReLU': {
      const spec: ActivationSpec = { kind: 'leakyrelu', alpha: Number(config.alpha ?? 0.3) };
      return ([x], ctx) => ctx.activation(x!, spec);
    }
    case 'ELU':
      return Number(config.alpha ?? 1) === 1 ? ([x], ctx) => ctx.activation(x!, { kind: 'elu' }) : undefined;
    case 'Softmax':
      return Number(config.axis ?? -1) === -1 ? ([x], ctx) => ctx.activation(x!, { kind: 'softmax' }) : undefined;
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const size = pair(config.poolSize, 2);
      const strides = config.strides == null ? size : pair(config.strides, 1);
      const pad = String(config.padding ?? 'valid') as 'same' | 'valid';
      return className === 'MaxPooling2D'
        ? ([x]) => tf.maxPool(x as tf.Tensor4D, size, strides, pad)
        : ([x], ctx) => avgPool(x as tf.Tensor4D, ctx.weights, name, size, strides, pad);
    }
    case 'GlobalAveragePooling2D':
      return ([x]) => tf.mean(x!, [1, 2]);
    case 'GlobalMaxPooling2D':
      return ([x]) => tf.max(x!, [1, 2]);
    case 'Flatten':
      return ([x]) => x!.reshape([x!.shape[0]!, -1]);
    case 'Reshape': {
      const target = (config.targetShape as number[]).map(Number);
      return ([x]) => x!.reshape([x!.shape[0]!, ...target]);
    }
    case 'Add':
      return (xs) => tf.addN(xs);
    case 'Subtract':
      return ([a, b]) => tf.sub(a!, b!);
    case 'Multiply':
      return (xs) => xs.reduce((p, c) => tf.mul(p, c));
    case 'Average':
      return (xs) => tf.div(tf.addN(xs), xs.length);
    case 'Maximum':
      return (xs) => xs.reduce((p, c) => tf.maximum(p, c));
    case 'Minimum':
      return (xs) => xs.reduce((p, c) => tf.minimum(p, c));
    case 'Concatenate': {
      const axis = Number(config.axis ?? -1);
      return (xs) => tf.concat(xs, axis);
    }
    case 'ZeroPadding2D': {
      const p = config.padding as number | number[] | number[][];
      const [[t, b], [l, r]] = Array.isArray(p)
        ? (Array.isArray(p[0]) ? (p as number[][]) : [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]])
        : [[p, p], [p, p]];
      return ([x]) => tf.pad(x!, [[0, 0], [t!, b!], [l!, r!], [0, 0]]);
    }
    case 'Cropping2D': {
      const c = config.cropping as number[][];
      return ([x]) => {
        const [, h, w] = x!.shape as number[];
        return x!.slice([0, c[0]![0]!, c[1]![0]!, 0], [-1, h! - c[0]![0]! - c[0]![1]!, w! - c[1]![0]! - c[1]![1]!, -1]);
      };
    }
    case 'Rescaling': {
      const scale = Number(config.scale ?? 1);
      const offset = Number(config.offset ?? 0);
      return ([x]) => tf.add(tf.mul(x!, scale), offset);
    }
    default:
      return undefined;
  }
}
