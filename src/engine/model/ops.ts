import * as tf from '@tensorflow/tfjs';
import { batchNormAffine } from './batchNorm';
import { avgPool, avgPoolExplicit, conv2d, conv2dWith, depthwiseConv2d, type ConvAttrs, type Padding } from './convOps';
import type { ActivationSpec, ExecContext, FusionInfo } from './ir';

/**
 * What a node computes, declared rather than coded: every format's loader (TF.js Layers and Graph,
 * ONNX, Keras) translates its layers into these, once. Two interpreters read them: applyOp below
 * (TF.js, with Loupe's backward rules) and the ONNX Runtime compiler (backends/onnxruntime), which
 * emits the forward and backward passes as ONNX graphs. Tensors are NHWC, weights TF.js-shaped.
 */
export type OpSpec =
  | { op: 'input' }
  | { op: 'identity' }
  /** kernel [kh, kw, in/groups, out]; depthwise: [kh, kw, C, multiplier] (groups ignored). */
  | { op: 'conv'; kernel: string; bias?: string; strides: [number, number]; dilations: [number, number]; pad: SpatialPad;
      depthwise: boolean; groups: number; activation: ActivationSpec }
  | { op: 'separableConv'; depthwiseKernel: string; pointwiseKernel: string; bias?: string; strides: [number, number];
      dilations: [number, number]; pad: SpatialPad; activation: ActivationSpec }
  /** kernel [in, out] over the last axis. */
  | { op: 'dense'; kernel: string; bias?: string; activation: ActivationSpec }
  /** Inference batch norm over the last axis. */
  | { op: 'batchNorm'; gamma?: string; beta?: string; mean: string; variance: string; epsilon: number }
  | { op: 'activation'; activation: ActivationSpec }
  | { op: 'pool'; mode: 'max' | 'avg'; size: [number, number]; strides: [number, number]; pad: SpatialPad;
      /** PyTorch's ceil_mode: a last, partial window where the floor rule would drop it. */
      ceil: boolean;
      /** Average pooling: whether explicit padding counts in the divisor (PyTorch's count_include_pad). */
      countIncludePad: boolean }
  | { op: 'globalPool'; mode: 'avg' | 'max'; keepDims: boolean }
  /** To [batch, features]; channelsFirst flattens in C, H, W order (PyTorch's), else H, W, C (Keras'). */
  | { op: 'flatten'; channelsFirst: boolean }
  /** Target shape without the batch axis, in NHWC order. */
  | { op: 'reshape'; shape: number[] }
  /** Operands in order: node inputs by index, or constant weights (broadcast NHWC). */
  | { op: 'elementwise'; fn: ElementwiseFn; operands: Operand[] }
  /** Axis of the NHWC tensor, batch included. */
  | { op: 'concat'; axis: number }
  | { op: 'pad'; pads: SpatialPads; value: number }
  | { op: 'crop'; crop: SpatialPads }
  | { op: 'scale'; scale: number; offset: number };

export type ElementwiseFn = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'mean';
export type Operand = { input: number } | { weight: string };
export type SpatialPads = [[number, number], [number, number]];
export type SpatialPad = 'same' | 'valid' | SpatialPads;
export type OpKind = OpSpec['op'];

const IDENTITY: ActivationSpec = { kind: 'linear' };

export function toPadding(pad: SpatialPad): Padding {
  return Array.isArray(pad) ? [[0, 0], pad[0], pad[1], [0, 0]] : pad;
}

export function convAttrsOf(op: { strides: [number, number]; dilations: [number, number]; pad: SpatialPad }): ConvAttrs {
  return { strides: op.strides, dilations: op.dilations, pad: toPadding(op.pad) };
}

/** Evaluates an op with TF.js; ReLU-family units obey ctx's rule. `key` names derived tensors (the node's name). */
export function applyOp(spec: OpSpec, xs: tf.Tensor[], ctx: ExecContext, key: string): tf.Tensor {
  const x = xs[0]!;
  const bias = (y: tf.Tensor, name: string | undefined) => (name ? tf.add(y, ctx.weights.get(name)) : y);
  switch (spec.op) {
    case 'input':
      throw new Error('internal: the input node is never evaluated');
    case 'identity':
      return x;
    case 'conv': {
      const attrs = convAttrsOf(spec);
      let y: tf.Tensor;
      if (spec.depthwise) y = depthwiseConv2d(x as tf.Tensor4D, ctx.weights, spec.kernel, attrs);
      else if (spec.groups === 1) y = conv2d(x as tf.Tensor4D, ctx.weights, spec.kernel, attrs);
      else y = groupedConv(x as tf.Tensor4D, ctx, spec.kernel, spec.groups, attrs);
      return ctx.activation(bias(y, spec.bias), spec.activation);
    }
    case 'separableConv': {
      const dw = depthwiseConv2d(x as tf.Tensor4D, ctx.weights, spec.depthwiseKernel, convAttrsOf(spec));
      const pw = conv2d(dw, ctx.weights, spec.pointwiseKernel, { strides: [1, 1], dilations: [1, 1], pad: 'valid' });
      return ctx.activation(bias(pw, spec.bias), spec.activation);
    }
    case 'dense': {
      const kernel = ctx.weights.get(spec.kernel) as tf.Tensor2D;
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : (x.reshape([-1, x.shape[x.rank - 1]!]) as tf.Tensor2D);
      let y: tf.Tensor = bias(tf.matMul(flat, kernel), spec.bias);
      if (x.rank !== 2) y = y.reshape([...x.shape.slice(0, -1), kernel.shape[1]]);
      return ctx.activation(y, spec.activation);
    }
    case 'batchNorm': {
      const { scale, offset } = batchNormAffine(ctx.weights, key, spec);
      return tf.add(tf.mul(x, scale), offset);
    }
    case 'activation':
      return ctx.activation(x, spec.activation);
    case 'pool':
      return pool(x as tf.Tensor4D, spec, ctx, key);
    case 'globalPool': {
      const reduce = spec.mode === 'avg' ? tf.mean : tf.max;
      return reduce(x, [1, 2], spec.keepDims);
    }
    case 'flatten':
      return (spec.channelsFirst && x.rank === 4 ? x.transpose([0, 3, 1, 2]) : x).reshape([x.shape[0]!, -1]);
    case 'reshape':
      return x.reshape([x.shape[0]!, ...spec.shape]);
    case 'elementwise': {
      const values = spec.operands.map((o) => ('input' in o ? xs[o.input]! : ctx.weights.get(o.weight)));
      return elementwise(spec.fn, values);
    }
    case 'concat':
      return tf.concat(xs, spec.axis);
    case 'pad':
      return tf.pad(x, [[0, 0], spec.pads[0], spec.pads[1], [0, 0]], spec.value);
    case 'crop': {
      const [, h, w] = x.shape as number[];
      const [[t, b], [l, r]] = spec.crop;
      return x.slice([0, t, l, 0], [-1, h! - t - b, w! - l - r, -1]);
    }
    case 'scale':
      return tf.add(tf.mul(x, spec.scale), spec.offset);
  }
}

function elementwise(fn: ElementwiseFn, values: tf.Tensor[]): tf.Tensor {
  switch (fn) {
    case 'add': return values.length > 1 && values.every((v) => v.shape.join() === values[0]!.shape.join()) ? tf.addN(values) : values.reduce((p, c) => tf.add(p, c));
    case 'sub': return tf.sub(values[0]!, values[1]!);
    case 'mul': return values.reduce((p, c) => tf.mul(p, c));
    case 'div': return tf.div(values[0]!, values[1]!);
    case 'max': return values.reduce((p, c) => tf.maximum(p, c));
    case 'min': return values.reduce((p, c) => tf.minimum(p, c));
    case 'mean': return tf.div(values.reduce((p, c) => tf.add(p, c)), values.length);
  }
}

/** Grouped convolution (1 < groups < channels): TF.js has none, so one convolution per group. */
function groupedConv(x: tf.Tensor4D, ctx: ExecContext, kernelName: string, groups: number, attrs: ConvAttrs): tf.Tensor4D {
  const kernel = ctx.weights.get(kernelName) as tf.Tensor4D;
  const out = kernel.shape[3];
  const inputs = tf.split(x, groups, 3);
  const parts = inputs.map((xi, g) => {
    const name = `${kernelName}#group${g}`;
    const k = ctx.weights.derived(name, () => kernel.slice([0, 0, 0, g * (out / groups)], [-1, -1, -1, out / groups]));
    return conv2dWith(xi as tf.Tensor4D, k as tf.Tensor4D, ctx.weights, name, attrs);
  });
  return tf.concat(parts, 3);
}

function pool(x: tf.Tensor4D, spec: Extract<OpSpec, { op: 'pool' }>, ctx: ExecContext, key: string): tf.Tensor4D {
  const { mode, size, strides } = spec;
  // TF's 'same' average pooling divides by the elements inside the image; ONNX's count_include_pad counts the padding.
  const tfSemantics = spec.pad === 'valid' || (spec.pad === 'same' && (mode === 'max' || !spec.countIncludePad));
  if (!Array.isArray(spec.pad) && !spec.ceil && tfSemantics) {
    return mode === 'max' ? tf.maxPool(x, size, strides, spec.pad) : avgPool(x, ctx.weights, key, size, strides, spec.pad);
  }
  const explicit = Array.isArray(spec.pad) ? spec.pad : explicitPads(spec.pad, [x.shape[1], x.shape[2]], size, strides, [1, 1]);
  const extra = spec.ceil ? ceilExtra([x.shape[1], x.shape[2]], size, strides, explicit) : [0, 0];
  const pads: SpatialPads = [[explicit[0][0], explicit[0][1] + extra[0]!], [explicit[1][0], explicit[1][1] + extra[1]!]];
  if (mode === 'max') {
    // PyTorch pads max pooling with −∞: padding never wins a window.
    return tf.maxPool(tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]], -Infinity) as tf.Tensor4D, size, strides, 'valid');
  }
  return avgPoolExplicit(x, ctx.weights, key, size, strides, explicit, extra as [number, number], spec.countIncludePad);
}

/** TF's 'same' padding as explicit pads (the extra pixel goes after, as TF does). */
export function explicitPads(pad: 'same' | 'valid', [h, w]: [number, number], size: [number, number], strides: [number, number],
  dilations: [number, number]): SpatialPads {
  if (pad === 'valid') return [[0, 0], [0, 0]];
  const one = (n: number, k: number, s: number, d: number): [number, number] => {
    const eff = (k - 1) * d + 1;
    const out = Math.ceil(n / s);
    const total = Math.max(0, (out - 1) * s + eff - n);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  return [one(h, size[0], strides[0], dilations[0]), one(w, size[1], strides[1], dilations[1])];
}

/** Rows/columns ceil_mode adds after the input (PyTorch: the last window must start inside the input or its left padding). */
export function ceilExtra([h, w]: [number, number], size: [number, number], strides: [number, number], pads: SpatialPads): [number, number] {
  const one = (n: number, k: number, s: number, [before, after]: [number, number]) => {
    const padded = n + before + after;
    const floorOut = Math.floor((padded - k) / s) + 1;
    let ceilOut = Math.ceil((padded - k) / s) + 1;
    if ((ceilOut - 1) * s >= n + before) ceilOut--;
    return Math.max(0, (ceilOut - 1) * s + k - padded) * (ceilOut > floorOut ? 1 : 0);
  };
  return [one(h, size[0], strides[0], pads[0]), one(w, size[1], strides[1], pads[1])];
}

/** How the executor may fuse a node with its neighbours (fusion.ts), from its op. */
export function fusionOf(spec: OpSpec, key: string): FusionInfo | undefined {
  switch (spec.op) {
    case 'conv':
      if (!spec.depthwise && spec.groups !== 1) return undefined;
      return {
        role: 'conv', depthwise: spec.depthwise, kernel: spec.kernel, ...(spec.bias ? { bias: spec.bias } : {}),
        attrs: convAttrsOf(spec), activation: spec.activation,
      };
    case 'batchNorm':
      return { role: 'affine', affine: (store) => batchNormAffine(store, key, spec) };
    case 'activation':
      return { role: 'activation', activation: spec.activation };
    default:
      return undefined;
  }
}

/** The activation applied inside an op (conv/dense/activation), for display and the softmax head. */
export function activationOf(spec: OpSpec): ActivationSpec {
  return 'activation' in spec ? spec.activation : IDENTITY;
}

/** Weights an op reads, in a stable order (the sanity check and the ONNX compiler use them). */
export function weightsOf(spec: OpSpec): string[] {
  switch (spec.op) {
    case 'conv': case 'dense': return [spec.kernel, ...(spec.bias ? [spec.bias] : [])];
    case 'separableConv': return [spec.depthwiseKernel, spec.pointwiseKernel, ...(spec.bias ? [spec.bias] : [])];
    case 'batchNorm': return [...(spec.gamma ? [spec.gamma] : []), ...(spec.beta ? [spec.beta] : []), spec.mean, spec.variance];
    case 'elementwise': return spec.operands.flatMap((o) => ('weight' in o ? [o.weight] : []));
    default: return [];
  }
}
