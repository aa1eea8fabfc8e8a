import * as tf from '@tensorflow/tfjs';
import { customGrad1 } from './customGrad';
import type { ActivationSpec, ReluRule } from './ir';
import type { WeightStore } from './weightStore';

export type Padding = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

export interface ConvAttrs {
  strides: [number, number];
  dilations: [number, number];
  pad: Padding;
}

/**
 * Convolutions whose backward pass computes only the input gradient, as a forward convolution of the
 * (zero-dilated) output gradient with the flipped kernel. Why: tfjs's fused conv gradient always computes
 * the filter gradient too, and the native Conv2DBackpropInput kernels are 5–6× slower than a forward
 * convolution on wasm (measured: 1×1 conv 56×56×144→24, 14.2 ms vs 2.8 ms).
 */
export function conv2d(x: tf.Tensor4D, store: WeightStore, kernelName: string, attrs: ConvAttrs): tf.Tensor4D {
  const kernel = store.get(kernelName) as tf.Tensor4D;
  return conv2dWith(x, kernel, store, kernelName, attrs);
}

function conv2dWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, key: string, attrs: ConvAttrs): tf.Tensor4D {
  const op = customGrad1((input: tf.Tensor) => {
    const xi = input as tf.Tensor4D;
    return {
      value: tf.conv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations),
      gradFunc: (dy: tf.Tensor4D) => convInput(dy, xi.shape, kernel, store, key, attrs),
    };
  });
  return op(x);
}

/** Depthwise convolution with the same input-gradient-only backward pass (channel multiplier M ≥ 1). */
export function depthwiseConv2d(x: tf.Tensor4D, store: WeightStore, kernelName: string, attrs: ConvAttrs): tf.Tensor4D {
  return depthwiseWith(x, store.get(kernelName) as tf.Tensor4D, store, kernelName, attrs);
}

/**
 * Average pooling as a depthwise sum over a ones kernel divided by the number of in-image elements.
 * Why: tfjs's AvgPool gradient divides by the full window even where 'same' padding made the forward
 * pass average fewer elements, so border gradients come out wrong (seen against finite differences).
 */
export function avgPool(x: tf.Tensor4D, store: WeightStore, key: string, size: [number, number], strides: [number, number],
  pad: 'same' | 'valid'): tf.Tensor4D {
  if (pad === 'valid') return tf.avgPool(x, size, strides, 'valid');
  const channels = x.shape[3];
  const onesKey = `${key}#ones${channels}`;
  const ones = store.derived(onesKey, () => tf.ones([size[0], size[1], channels, 1])) as tf.Tensor4D;
  const counts = tf.depthwiseConv2d(tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D, ones.slice([0, 0, 0, 0], [-1, -1, 1, 1]) as tf.Tensor4D,
    strides, 'same');
  return tf.div(depthwiseWith(x, ones, store, onesKey, { strides, dilations: [1, 1], pad: 'same' }), counts) as tf.Tensor4D;
}

function depthwiseWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, key: string, attrs: ConvAttrs): tf.Tensor4D {
  const op = customGrad1((input: tf.Tensor) => {
    const xi = input as tf.Tensor4D;
    return {
      value: tf.depthwiseConv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations),
      gradFunc: (dy: tf.Tensor4D) => depthwiseInput(dy, xi.shape, kernel, store, key, attrs),
    };
  });
  return op(x);
}

/** ∂/∂x of a convolution: the flipped, in/out-transposed kernel run forward over dy. */
function convInput(dy: tf.Tensor4D, xShape: number[], kernel: tf.Tensor4D, store: WeightStore, key: string,
  attrs: ConvAttrs): tf.Tensor4D {
  const flipped = store.derived(`${key}#flipT`, () => tf.reverse(kernel, [0, 1]).transpose([0, 1, 3, 2])) as tf.Tensor4D;
  return transposedConv(dy, xShape, kernel.shape, attrs, (d, pad) => tf.conv2d(d, flipped, 1, pad, 'NHWC', attrs.dilations), false);
}

/** ∂/∂x of a depthwise convolution (channel multiplier M ≥ 1): flipped kernel, then a sum over M. */
function depthwiseInput(dy: tf.Tensor4D, xShape: number[], kernel: tf.Tensor4D, store: WeightStore, key: string,
  attrs: ConvAttrs): tf.Tensor4D {
  const [kh, kw, channels, multiplier] = kernel.shape;
  const flipped = store.derived(`${key}#flipDW`, () => tf.reverse(kernel, [0, 1]).reshape([kh, kw, channels * multiplier, 1])) as tf.Tensor4D;
  return transposedConv(dy, xShape, kernel.shape, attrs, (d, pad) => {
    const y = tf.depthwiseConv2d(d, flipped, 1, pad, 'NHWC', attrs.dilations);
    if (multiplier === 1) return y;
    const [b, h, w] = y.shape;
    return y.reshape([b, h, w, channels, multiplier]).sum(4) as tf.Tensor4D;
  }, true);
}

type ExplicitPad = [[0, 0], [number, number], [number, number], [0, 0]];

/**
 * dx = correlate(dilate(dy, stride), flip(kernel)) with padding chosen so the result has the input's size.
 * Negative pads become crops of dy.
 */
function transposedConv(
  dy: tf.Tensor4D,
  xShape: number[],
  kernelShape: number[],
  attrs: ConvAttrs,
  forward: (dy: tf.Tensor4D, pad: ExplicitPad) => tf.Tensor4D,
  depthwise: boolean,
): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    kernelShape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, undefined, depthwise);
  const [sh, sw] = attrs.strides;
  let d = dilate(dy, sh, sw);
  const [, dh, dw] = d.shape;
  const effH = info.effectiveFilterHeight;
  const effW = info.effectiveFilterWidth;
  const top = effH - 1 - info.padInfo.top;
  const left = effW - 1 - info.padInfo.left;
  const bottom = xShape[1]! - dh + effH - 1 - top;
  const right = xShape[2]! - dw + effW - 1 - left;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const t0 = Math.max(0, -top);
    const l0 = Math.max(0, -left);
    d = d.slice([0, t0, l0, 0], [-1, dh - t0 - Math.max(0, -bottom), dw - l0 - Math.max(0, -right), -1]);
  }
  return forward(d, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]);
}

/** Inserts stride − 1 zeros after every row and column of dy (trailing zeros are absorbed by the padding). */
function dilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, h, w, c] = dy.shape;
  return dy
    .reshape([b, h, 1, w, 1, c])
    .pad([[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]])
    .reshape([b, h * sh, w * sw, c]);
}

/** A convolution followed by an optional per-channel affine (batch norm) and a ReLU-family activation. */
export interface ConvUnit {
  /** Cache key of the folded weights: unique per chain. */
  key: string;
  depthwise: boolean;
  kernel: string;
  bias?: string;
  attrs: ConvAttrs;
  affine?: (store: WeightStore) => { scale: tf.Tensor; offset: tf.Tensor };
  activation: ActivationSpec;
}

const FUSED_NAMES: Partial<Record<ActivationSpec['kind'], tf.fused.Activation>> = {
  linear: 'linear', relu: 'relu', relu6: 'relu6', leakyrelu: 'leakyrelu',
};

export function canFuseActivation(spec: ActivationSpec): boolean {
  return FUSED_NAMES[spec.kind] !== undefined;
}

/**
 * The whole unit as one fused kernel forward (batch norm folded into the kernel and bias), and one
 * backward: the activation's rule applied to dy from the saved output, then the input-gradient conv.
 * Why: on wasm the per-op overhead of bias-add, batch-norm and ReLU6 masks dominated MobileNetV2's gradient.
 */
export function convUnit(x: tf.Tensor4D, store: WeightStore, unit: ConvUnit, rule: ReluRule): tf.Tensor4D {
  const kernel = store.derived(`${unit.key}#kernel`, () => {
    const k = store.get(unit.kernel);
    if (!unit.affine) return k.clone();
    const { scale } = unit.affine(store);
    return unit.depthwise ? tf.mul(k, scale.reshape([1, 1, k.shape[2]!, k.shape[3]!])) : tf.mul(k, scale);
  }) as tf.Tensor4D;
  const bias = store.derived(`${unit.key}#bias`, () => {
    const outChannels = unit.depthwise ? kernel.shape[2] * kernel.shape[3] : kernel.shape[3];
    const b = unit.bias ? store.get(unit.bias) : tf.zeros([outChannels]);
    if (!unit.affine) return b.clone();
    const { scale, offset } = unit.affine(store);
    return tf.add(tf.mul(b, scale), offset);
  });
  const act = unit.activation;
  const activation = FUSED_NAMES[act.kind]!;
  const leakyreluAlpha = act.kind === 'leakyrelu' ? act.alpha : undefined;
  const op = customGrad1((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const xi = input as tf.Tensor4D;
    // The fused kernel is called directly: tf.fused.* falls back to separate conv, bias-add and activation
    // ops whenever a gradient is being recorded, which is exactly when Loupe runs it.
    const attrs = { strides: unit.attrs.strides, pad: unit.attrs.pad, dataFormat: 'NHWC', dilations: unit.attrs.dilations,
      activation, leakyreluAlpha: leakyreluAlpha ?? 0 };
    const value = tf.engine().runKernel(unit.depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D',
      { x: xi, filter: kernel, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    save([value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const g = activationBackward(dy, saved[0]!, act, rule) as tf.Tensor4D;
        return unit.depthwise
          ? depthwiseInput(g, xi.shape, kernel, store, unit.key, unit.attrs)
          : convInput(g, xi.shape, kernel, store, unit.key, unit.attrs);
      },
    };
  });
  return op(x);
}

/** dy → d(pre-activation), from the activation's output y (y > 0 ⇔ x > 0 for these units). */
function activationBackward(dy: tf.Tensor, y: tf.Tensor, act: ActivationSpec, rule: ReluRule): tf.Tensor {
  if (act.kind === 'linear') return dy;
  if (rule === 'deconvnet') return act.kind === 'leakyrelu' ? tf.leakyRelu(dy, act.alpha) : tf.relu(dy);
  let slope = tf.step(y);
  if (act.kind === 'relu6') slope = tf.mul(slope, tf.step(tf.sub(6, y)));
  if (act.kind === 'leakyrelu') slope = tf.add(tf.mul(slope, 1 - act.alpha), act.alpha);
  const g = tf.mul(dy, slope);
  return rule === 'guided' ? tf.mul(g, tf.step(dy)) : g;
}
