// Keras layer classes (Keras 3 and Keras 2 spellings) → the Keras-2-style layer configs tfjs-layers
// deserialises, with the names of their weights in the order Keras stores them. Anything not in this
// table is refused at load by name: Loupe never runs code a model file names (Lambda, custom classes).
import { LoupeError } from '../../../../protocol/errors';
import type { Json, KerasLayer } from './topology';

/** One weight array as read from the file. */
export interface RawWeight { shape: number[]; data: Float32Array }
/** A weight as tfjs-layers names it within its layer (`kernel`, `moving_mean`). */
export interface NamedWeight extends RawWeight { role: string }

export interface TfjsLayer {
  className: string;
  config: Json;
  /** How many arrays Keras stores for this layer, and their names (for messages). */
  stored: string[];
  /** The weights tfjs-layers expects, from the stored arrays (in stored order). */
  weights(stored: RawWeight[]): NamedWeight[];
}

// Layers that compute nothing at inference (training-time noise and augmentation): run as identities.
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise',
  'GaussianDropout', 'AlphaDropout', 'ActivityRegularization', 'RandomFlip', 'RandomRotation', 'RandomZoom',
  'RandomTranslation', 'RandomContrast', 'RandomBrightness', 'Identity']);

// Classes tfjs-layers deserialises as they are (after key clean-up), with their stored weights.
const DIRECT: Record<string, (c: Json) => string[]> = {
  InputLayer: () => [],
  Conv2D: (c) => withBias(['kernel'], c),
  Conv2DTranspose: (c) => withBias(['kernel'], c),
  DepthwiseConv2D: (c) => withBias(['depthwise_kernel'], c),
  SeparableConv2D: (c) => withBias(['depthwise_kernel', 'pointwise_kernel'], c),
  Dense: (c) => withBias(['kernel'], c),
  BatchNormalization: (c) => [...(c.scale !== false ? ['gamma'] : []), ...(c.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'],
  LayerNormalization: (c) => [...(c.scale !== false ? ['gamma'] : []), ...(c.center !== false ? ['beta'] : [])],
  PReLU: () => ['alpha'],
  Activation: () => [], ReLU: () => [], LeakyReLU: () => [], ELU: () => [], Softmax: () => [], ThresholdedReLU: () => [],
  MaxPooling2D: () => [], AveragePooling2D: () => [], GlobalAveragePooling2D: () => [], GlobalMaxPooling2D: () => [],
  Flatten: () => [], Reshape: () => [], Permute: () => [], ZeroPadding2D: () => [], Cropping2D: () => [], UpSampling2D: () => [],
  Add: () => [], Multiply: () => [], Average: () => [], Maximum: () => [], Minimum: () => [], Concatenate: () => [],
  Rescaling: () => [], Resizing: () => [], CenterCrop: () => [],
};

/** Keras 3 activation names tfjs-layers spells differently. */
const ACTIVATION_NAMES: Record<string, string> = { silu: 'swish', hard_sigmoid: 'hardSigmoid', log_softmax: 'logSoftmax' };

/** Keys that describe training or serialisation, not the function the layer computes. */
const DROPPED_KEY = /(_initializer|_regularizer|_constraint)$|^(module|registered_name|shared_object_id|build_config|compile_config|trainable|seed)$/;

export function toTfjsLayer(layer: KerasLayer, file: string): TfjsLayer {
  const { name, className } = layer;
  refuseCode(layer, file);
  const config = clean(layer.config) as Json;
  config.name = name;
  const refuse = (what: string, hint?: string): never => {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' (${className}) ${what}`, file, hint);
  };
  if (config.data_format === 'channels_first') refuse('uses channels-first data', 'Loupe reads channels-last (NHWC) models');
  if (typeof config.activation === 'string') config.activation = ACTIVATION_NAMES[config.activation] ?? config.activation;
  if (INFERENCE_IDENTITY.has(className)) {
    return direct('Dropout', { name, rate: 0 }, []);
  }
  switch (className) {
    case 'InputLayer': {
      const shape = config.batch_shape ?? config.batch_input_shape ?? (Array.isArray(config.shape) ? [null, ...config.shape] : undefined);
      return direct('InputLayer', { name, batch_input_shape: shape, dtype: 'float32', sparse: false }, []);
    }
    case 'Conv2D':
    case 'DepthwiseConv2D':
    case 'SeparableConv2D':
      if (config.groups != null && Number(config.groups) !== 1) refuse(`uses groups=${String(config.groups)}`, 'grouped convolutions are not in tfjs-layers');
      delete config.groups;
      break;
    case 'Dense':
      if (config.lora_rank != null) refuse('has LoRA weights', 'merge the LoRA weights (layer.enable_lora is undone by saving a merged copy) and save again');
      break;
    case 'BatchNormalization':
      if (Array.isArray(config.axis)) {
        if (config.axis.length !== 1) refuse(`normalises over axes [${config.axis.join(', ')}]`);
        config.axis = config.axis[0];
      }
      if (config.renorm === true) refuse('uses batch renormalisation');
      for (const k of ['renorm', 'renorm_clipping', 'renorm_momentum', 'synchronized', 'fused', 'virtual_batch_size', 'adjustment']) delete config[k];
      break;
    case 'LeakyReLU':
      if (config.negative_slope != null) config.alpha = config.negative_slope;
      delete config.negative_slope;
      break;
    case 'ReLU': {
      const slope = Number(config.negative_slope ?? 0);
      const threshold = Number(config.threshold ?? 0);
      if (slope !== 0 || threshold !== 0) refuse(`has negative_slope=${slope}, threshold=${threshold}`, 'use LeakyReLU, or ReLU with its defaults');
      delete config.negative_slope;
      delete config.threshold;
      break;
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      if (config.keepdims === true) refuse('keeps its pooled dimensions (keepdims=True)');
      delete config.keepdims;
      break;
    case 'Rescaling':
      if (Array.isArray(config.scale) || Array.isArray(config.offset)) return perChannelAffine(name, config, file);
      break;
    case 'Normalization':
      return normalization(layer, config, file);
    case 'Subtract':
      refuse('is not in tfjs-layers, through which Loupe rebuilds Keras models', 'compute a − b as Add()([a, -1 · b]) with a Rescaling(-1) layer');
      break;
    default:
      if (!DIRECT[className]) {
        refuse('is a layer class Loupe does not know',
          `Loupe reads these Keras layers: ${[...Object.keys(DIRECT), 'Normalization', ...INFERENCE_IDENTITY].sort().join(', ')}`);
      }
  }
  return direct(className, config, DIRECT[className]!(config));
}

/** Lambda layers and classes registered by the user's code: naming them in a file must not run them. */
function refuseCode(layer: KerasLayer, file: string): void {
  const custom = layer.className === 'Lambda' || layer.className === 'TFOpLambda' || layer.className === 'SlicingOpLambda'
    || (layer.registeredName != null && !layer.registeredName.startsWith('keras') && layer.registeredName !== layer.className)
    || (layer.module != null && !/^(keras|tf_keras|tensorflow)(\.|$)/.test(layer.module));
  if (custom) {
    throw new LoupeError('UNSUPPORTED_MODEL',
      `layer '${layer.name}' is a ${layer.className === 'Lambda' ? 'Lambda layer' : `custom layer class '${layer.registeredName ?? layer.className}'`}, which runs Python code`, file,
      'Loupe never runs code from model files: replace it with built-in Keras layers, or export the model to ONNX');
  }
}

function direct(className: string, config: Json, stored: string[]): TfjsLayer {
  return { className, config, stored, weights: (raw) => raw.map((w, i) => ({ ...w, role: stored[i]! })) };
}

function withBias(names: string[], config: Json): string[] {
  return config.use_bias === false ? names : [...names, 'bias'];
}

/**
 * Normalization (x − mean) / max(√variance, ε) with Keras's ε = 1e-7, as a batch norm without scale
 * or offset whose ε is 0 and whose variance is at least ε²: √max(v, ε²) = max(√v, ε), exactly Keras.
 */
function normalization(layer: KerasLayer, config: Json, file: string): TfjsLayer {
  const name = layer.name;
  if (config.invert === true) throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' (Normalization) inverts the normalisation`, file);
  const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== 3)) {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' (Normalization) normalises over axis ${JSON.stringify(config.axis)}`, file,
      'Loupe reads per-channel normalisation (axis=-1)');
  }
  const fromConfig = Array.isArray(config.mean) && Array.isArray(config.variance);
  const bn: Json = { name, axis: -1, epsilon: 0, center: false, scale: false, momentum: 0.99 };
  const floor = 1e-7 ** 2;
  const asStats = (mean: ArrayLike<number>, variance: ArrayLike<number>): NamedWeight[] => {
    const channels = mean.length;
    return [
      { role: 'moving_mean', shape: [channels], data: Float32Array.from(mean) },
      { role: 'moving_variance', shape: [channels], data: Float32Array.from(variance, (v) => Math.max(v, floor)) },
    ];
  };
  if (fromConfig) {
    const mean = (config.mean as unknown[]).flat(4).map(Number);
    const variance = (config.variance as unknown[]).flat(4).map(Number);
    return { className: 'BatchNormalization', config: bn, stored: [], weights: () => asStats(mean, variance) };
  }
  return {
    className: 'BatchNormalization', config: bn, stored: ['mean', 'variance', 'count'],
    weights: ([mean, variance]) => asStats(mean!.data, variance!.data),
  };
}

/** Rescaling with one scale and offset per channel: a batch norm with γ = scale, β = offset. */
function perChannelAffine(name: string, config: Json, file: string): TfjsLayer {
  const scale = ([] as unknown[]).concat(config.scale).map(Number);
  const offset = ([] as unknown[]).concat(config.offset ?? 0).map(Number);
  const channels = Math.max(scale.length, offset.length);
  if (![1, channels].includes(scale.length) || ![1, channels].includes(offset.length) || scale.some(Number.isNaN) || offset.some(Number.isNaN)) {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' (Rescaling) has a scale or offset Loupe cannot read per channel`, file);
  }
  const full = (v: number[]): Float32Array => Float32Array.from({ length: channels }, (_, i) => v[v.length === 1 ? 0 : i]!);
  return {
    className: 'BatchNormalization', config: { name, axis: -1, epsilon: 0, center: true, scale: true, momentum: 0.99 }, stored: [],
    weights: () => [
      { role: 'gamma', shape: [channels], data: full(scale) },
      { role: 'beta', shape: [channels], data: full(offset) },
      { role: 'moving_mean', shape: [channels], data: new Float32Array(channels) },
      { role: 'moving_variance', shape: [channels], data: new Float32Array(channels).fill(1) },
    ],
  };
}

/** Removes serialisation wrappers: `{module, class_name: 'DTypePolicy', config: {name}}` → its name; drops training-only keys. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (!v || typeof v !== 'object') return v;
  const o = v as Json;
  if (o.class_name === 'DTypePolicy' || o.class_name === 'Policy' || o.class_name === 'DTypePolicyMap') return 'float32';
  const out: Json = {};
  for (const [k, value] of Object.entries(o)) {
    if (DROPPED_KEY.test(k)) continue;
    // Mixed-precision policies keep float32 variables; Loupe computes in float32 throughout.
    out[k] = k === 'dtype' ? 'float32' : clean(value);
  }
  return out;
}
