import * as tf from '@tensorflow/tfjs';
import { customGrad1 } from './customGrad';
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

function conv2dWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, kernelName: string, attrs: ConvAttrs): tf.Tensor4D {
  const op = customGrad1((input: tf.Tensor) => {
    const xi = input as tf.Tensor4D;
    const value = tf.conv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations);
    const gradFunc = (dy: tf.Tensor) => {
      const flipped = store.derived(`${kernelName}#flipT`, () => tf.reverse(kernel, [0, 1]).transpose([0, 1, 3, 2]));
      return transposedConv(dy as tf.Tensor4D, xi.shape, kernel.shape, attrs, (d, pad) =>
        tf.conv2d(d, flipped as tf.Tensor4D, 1, pad, 'NHWC', attrs.dilations), false);
    };
    return { value, gradFunc };
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
  const ones = store.derived(`${key}#ones${channels}`, () => tf.ones([size[0], size[1], channels, 1])) as tf.Tensor4D;
  const attrs: ConvAttrs = { strides, dilations: [1, 1], pad: 'same' };
  const counts = tf.depthwiseConv2d(tf.ones([1, x.shape[1], x.shape[2], 1]), ones.slice([0, 0, 0, 0], [-1, -1, 1, 1]) as tf.Tensor4D,
    strides, 'same');
  return tf.div(depthwiseWith(x, ones, store, `${key}#ones${channels}`, attrs), counts);
}

function depthwiseWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, kernelName: string, attrs: ConvAttrs): tf.Tensor4D {
  const [kh, kw, channels, multiplier] = kernel.shape;
  const op = customGrad1((input: tf.Tensor) => {
    const xi = input as tf.Tensor4D;
    const value = tf.depthwiseConv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations);
    const gradFunc = (dy: tf.Tensor) => {
      const flipped = store.derived(`${kernelName}#flipDW`, () =>
        tf.reverse(kernel, [0, 1]).reshape([kh, kw, channels * multiplier, 1]));
      return transposedConv(dy as tf.Tensor4D, xi.shape, kernel.shape, attrs, (d, pad) => {
        const y = tf.depthwiseConv2d(d, flipped as tf.Tensor4D, 1, pad, 'NHWC', attrs.dilations);
        if (multiplier === 1) return y;
        const [b, h, w] = y.shape;
        return y.reshape([b, h, w, channels, multiplier]).sum(4) as tf.Tensor4D;
      }, true);
    };
    return { value, gradFunc };
  });
  return op(x);
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

/** Inserts stride − 1 zeros between the rows and columns of dy. */
function dilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, h, w, c] = dy.shape;
  return dy
    .reshape([b, h, 1, w, 1, c])
    .pad([[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]])
    .reshape([b, h * sh, w * sw, c])
    .slice([0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}
