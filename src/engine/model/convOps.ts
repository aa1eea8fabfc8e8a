import { LoupeError } from '../../protocol/errors';
import * as tf from '@tensorflow/tfjs';
import { INTERLEAVE_PHASES, type InterleavePhasesAttrs } from '../kernels/interleavePhases';
import { RELU_BACKWARD, type ReluBackwardAttrs } from '../kernels/reluBackward';
import { redirectedGradient } from './activations';
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
  const counts = tf.depthwiseConv2d(tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D,
    ones.slice([0, 0, 0, 0], [-1, -1, 1, 1]) as tf.Tensor4D, strides, 'same');
  return tf.div(depthwiseWith(x, ones, store, onesKey, { strides, dilations: [1, 1], pad: 'same' }), counts) as tf.Tensor4D;
}

/**
 * Average pooling with explicit padding (PyTorch/ONNX): the window sum as a depthwise convolution over the
 * zero-padded input, divided by how many of its elements count: real pixels, plus the explicit padding when
 * `countIncludePad`, never the rows ceil_mode adds (`extra`), as PyTorch does.
 */
export function avgPoolExplicit(x: tf.Tensor4D, store: WeightStore, key: string, size: [number, number], strides: [number, number],
  pads: [[number, number], [number, number]], extra: [number, number], countIncludePad: boolean): tf.Tensor4D {
  const [, h, w, channels] = x.shape;
  const full: [[number, number], [number, number]] = [[pads[0][0], pads[0][1] + extra[0]], [pads[1][0], pads[1][1] + extra[1]]];
  const onesKey = `${key}#ones${channels}`;
  const ones = store.derived(onesKey, () => tf.ones([size[0], size[1], channels, 1])) as tf.Tensor4D;
  const padded = tf.pad(x, [[0, 0], full[0], full[1], [0, 0]]) as tf.Tensor4D;
  const sums = depthwiseWith(padded, ones, store, onesKey, { strides, dilations: [1, 1], pad: 'valid' });
  const counts = store.derived(`${key}#counts${h}x${w}`, () => {
    const inner = countIncludePad ? tf.ones([1, h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1], 1]) : tf.pad(tf.ones([1, h, w, 1]), [[0, 0], pads[0], pads[1], [0, 0]]);
    const mask = tf.pad(inner, [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]]) as tf.Tensor4D;
    return tf.depthwiseConv2d(mask, tf.ones([size[0], size[1], 1, 1]) as tf.Tensor4D, strides, 'valid');
  });
  return tf.div(sums, counts) as tf.Tensor4D;
}

export function conv2dWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, key: string, attrs: ConvAttrs): tf.Tensor4D {
  return withInputGradient(x, kernel, store, key, attrs, false);
}

function depthwiseWith(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, key: string, attrs: ConvAttrs): tf.Tensor4D {
  return withInputGradient(x, kernel, store, key, attrs, true);
}

function withInputGradient(x: tf.Tensor4D, kernel: tf.Tensor4D, store: WeightStore, key: string, attrs: ConvAttrs,
  depthwise: boolean): tf.Tensor4D {
  const op = customGrad1((input: tf.Tensor) => {
    const xi = input as tf.Tensor4D;
    return {
      value: depthwise
        ? tf.depthwiseConv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations)
        : tf.conv2d(xi, kernel, attrs.strides, attrs.pad, 'NHWC', attrs.dilations),
      gradFunc: (dy: tf.Tensor4D) => (depthwise ? depthwiseInput : convInput)(dy, xi.shape, kernel, store, key, attrs),
    };
  });
  return op(x);
}

/** ∂/∂x of a convolution: kernels flipped spatially with in/out channels swapped, run forward over dy. */
function convInput(dy: tf.Tensor4D, xShape: number[], kernel: tf.Tensor4D, store: WeightStore, key: string,
  attrs: ConvAttrs): tf.Tensor4D {
  return inputGradientConv(dy, xShape, kernel, store, `${key}#conv`, attrs, false,
    (k) => tf.reverse(k, [0, 1]).transpose([0, 1, 3, 2]),
    (d, k, pad) => tf.conv2d(d, k, 1, pad, 'NHWC', attrs.dilations));
}

/** ∂/∂x of a depthwise convolution (channel multiplier M ≥ 1): flipped kernels, then a sum over M. */
function depthwiseInput(dy: tf.Tensor4D, xShape: number[], kernel: tf.Tensor4D, store: WeightStore, key: string,
  attrs: ConvAttrs): tf.Tensor4D {
  const [, , channels, multiplier] = kernel.shape;
  return inputGradientConv(dy, xShape, kernel, store, `${key}#dw`, attrs, true,
    (k) => tf.reverse(k, [0, 1]).reshape([k.shape[0], k.shape[1], channels * multiplier, 1]),
    (d, k, pad) => {
      const y = tf.depthwiseConv2d(d, k, 1, pad, 'NHWC', attrs.dilations);
      if (multiplier === 1) return y;
      const [b, h, w] = y.shape;
      return y.reshape([b, h, w, channels, multiplier]).sum(4) as tf.Tensor4D;
    });
}

type ExplicitPad = [[0, 0], [number, number], [number, number], [0, 0]];
type Prepare = (kernel: tf.Tensor4D) => tf.Tensor;
type Correlate = (dy: tf.Tensor4D, kernel: tf.Tensor4D, pad: ExplicitPad) => tf.Tensor4D;

/**
 * Stride 1: one correlation of dy with the prepared kernel. Stride s: each of the s² output phases
 * correlates dy with the kernel taps of its parity, and the phases are interleaved, so no work is
 * spent on the zeros a dilated dy would hold (4× less for stride 2).
 */
function inputGradientConv(dy: tf.Tensor4D, xShape: number[], kernel: tf.Tensor4D, store: WeightStore, key: string,
  attrs: ConvAttrs, depthwise: boolean, prepare: Prepare, correlate: Correlate): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], kernel.shape, attrs.strides, attrs.dilations, attrs.pad, undefined, depthwise);
  const [sh, sw] = attrs.strides;
  if (sh === 1 && sw === 1) {
    const k = store.derived(`${key}#flip`, () => prepare(kernel)) as tf.Tensor4D;
    const rows = window1d(0, info.padInfo.top, 1, info.effectiveFilterHeight, xShape[1]!, dy.shape[1]);
    const cols = window1d(0, info.padInfo.left, 1, info.effectiveFilterWidth, xShape[2]!, dy.shape[2]);
    return correlateWindow(dy, k, rows, cols, correlate, xShape[3]!);
  }
  if (sh !== sw) {
    throw new LoupeError('UNSUPPORTED_MODEL', `a convolution with strides ${sh}×${sw} (${key}): Loupe's input gradients need equal strides`, undefined,
      'use equal strides along height and width');
  }
  const [, height, width] = xShape as [number, number, number, number];
  const [kh, kw] = kernel.shape;
  const nh = Math.ceil(height / sh);
  const nw = Math.ceil(width / sw);
  const phases: tf.Tensor4D[] = [];
  for (let a = 0; a < sh; a++) {
    for (let b = 0; b < sw; b++) {
      let rows = window1d(a, info.padInfo.top, sh, kh, height, dy.shape[1]);
      let cols = window1d(b, info.padInfo.left, sw, kw, width, dy.shape[2]);
      let out: tf.Tensor4D;
      if (rows.taps > 0 && cols.taps > 0) {
        const [th, tw] = depthwise ? fastDepthwiseTaps(rows.taps, cols.taps) : [rows.taps, cols.taps];
        const sub = store.derived(`${key}#phase${a},${b}`, () => {
          const k = prepare(tf.stridedSlice(kernel, [rows.first, cols.first, 0, 0], kernel.shape, [sh, sw, 1, 1]) as tf.Tensor4D);
          // Zero taps after the last one leave every sum unchanged (correlateWindow reads dy as zero past its end).
          return th === rows.taps && tw === cols.taps ? k : tf.pad(k, [[0, th - rows.taps], [0, tw - cols.taps], [0, 0], [0, 0]]);
        }) as tf.Tensor4D;
        rows = { ...rows, taps: th };
        cols = { ...cols, taps: tw };
        out = correlateWindow(dy, sub, rows, cols, correlate, xShape[3]!);
      } else {
        out = tf.zeros([dy.shape[0], rows.length, cols.length, xShape[3]!]);
      }
      phases.push(out);
    }
  }
  if (hasKernel(INTERLEAVE_PHASES)) {
    const attrs: InterleavePhasesAttrs = { stride: sh, height, width };
    return tf.engine().runKernel(INTERLEAVE_PHASES, { ...phases } as unknown as tf.NamedTensorMap,
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  for (let p = 0; p < phases.length; p++) {
    const out = phases[p]!;
    if (out.shape[1] !== nh || out.shape[2] !== nw) phases[p] = out.pad([[0, 0], [0, nh - out.shape[1]], [0, nw - out.shape[2]], [0, 0]]);
  }
  // Backends without the kernel: interleave phases (a, b) → rows i·s + a, cols j·s + b with a transpose.
  const batch = dy.shape[0];
  const channels = xShape[3]!;
  const interleaved = tf.concat(phases, 3).reshape([batch, nh, nw, sh, sw, channels])
    .transpose([0, 1, 3, 2, 4, 5]).reshape([batch, nh * sh, nw * sw, channels]) as tf.Tensor4D;
  return interleaved.shape[1] === height && interleaved.shape[2] === width
    ? interleaved
    : interleaved.slice([0, 0, 0, 0], [-1, height, width, -1]);
}

/**
 * Kernel extents XNNPACK's depthwise convolution runs fast on wasm, the sub-kernel padded with zero taps
 * to the smallest that holds it. Why: 2×1 and 1×2 taps (a 3×3 kernel's stride-2 phases) take 8× longer
 * than 2×2 (measured 56×56×96: 3.5 ms vs 0.4 ms); 3×2 and 4×4 alike against 3×3 and 5×5.
 */
const FAST_DEPTHWISE_TAPS: ReadonlyArray<[number, number]> = [[1, 1], [1, 3], [3, 1], [2, 2], [3, 3], [5, 5]];

function fastDepthwiseTaps(th: number, tw: number): [number, number] {
  if (FAST_DEPTHWISE_TAPS.some(([h, w]) => h === th && w === tw)) return [th, tw];
  const fits = FAST_DEPTHWISE_TAPS.filter(([h, w]) => h >= th && w >= tw).sort((p, q) => p[0] * p[1] - q[0] * q[1]);
  return fits[0] ?? [th, tw];
}

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Along one axis: which kernel taps serve output positions ≡ phase (mod stride), and where in dy they read. */
interface Window1d { first: number; taps: number; offset: number; length: number; dyLength: number }

function window1d(phase: number, padBefore: number, stride: number, kernel: number, size: number, dyLength: number): Window1d {
  const first = (phase + padBefore) % stride;
  const taps = first < kernel ? Math.ceil((kernel - first) / stride) : 0;
  const offset = Math.floor((phase + padBefore) / stride) - (taps - 1);
  return { first, taps, offset, length: Math.ceil((size - phase) / stride), dyLength };
}

/** out[i] = Σ_m dy[i + offset + m] · k[m] for i < length, with dy read as zero outside its extent. */
function correlateWindow(dy: tf.Tensor4D, k: tf.Tensor4D, rows: Window1d, cols: Window1d, correlate: Correlate,
  channels: number): tf.Tensor4D {
  const span = (w: Window1d) => {
    const end = w.offset + w.length + w.taps - 1;
    return { crop: Math.max(0, w.offset), stop: Math.min(w.dyLength, end), before: Math.max(0, -w.offset), after: Math.max(0, end - w.dyLength) };
  };
  const r = span(rows);
  const c = span(cols);
  if (r.stop <= r.crop || c.stop <= c.crop) return tf.zeros([dy.shape[0], rows.length, cols.length, channels]);
  const d = r.crop === 0 && c.crop === 0 && r.stop === dy.shape[1] && c.stop === dy.shape[2]
    ? dy
    : dy.slice([0, r.crop, c.crop, 0], [-1, r.stop - r.crop, c.stop - c.crop, -1]);
  return correlate(d, k, [[0, 0], [r.before, r.after], [c.before, c.after], [0, 0]]);
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
export function convUnitForward(x: tf.Tensor4D, store: WeightStore, unit: ConvUnit): tf.Tensor4D {
  const { kernel, bias } = foldedWeights(store, unit);
  const act = unit.activation;
  // The fused kernel is called directly: tf.fused.* falls back to separate conv, bias-add and activation
  // ops whenever a gradient is being recorded.
  const attrs = {
    strides: unit.attrs.strides, pad: unit.attrs.pad, dataFormat: 'NHWC', dilations: unit.attrs.dilations,
    activation: FUSED_NAMES[act.kind]!, leakyreluAlpha: act.kind === 'leakyrelu' ? act.alpha : 0,
  };
  return tf.engine().runKernel(unit.depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D',
    { x, filter: kernel, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** d score / d x of the unit, given d score / d y and the unit's output y. */
export function convUnitBackward(dy: tf.Tensor4D, xShape: number[], y: tf.Tensor, store: WeightStore, unit: ConvUnit,
  rule: ReluRule): tf.Tensor4D {
  const { kernel } = foldedWeights(store, unit);
  const g = activationBackward(dy, y, unit.activation, rule) as tf.Tensor4D;
  return unit.depthwise
    ? depthwiseInput(g, xShape, kernel, store, unit.key, unit.attrs)
    : convInput(g, xShape, kernel, store, unit.key, unit.attrs);
}

function foldedWeights(store: WeightStore, unit: ConvUnit): { kernel: tf.Tensor4D; bias: tf.Tensor } {
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
  return { kernel, bias };
}

/** dy → d(pre-activation), from the activation's output y (y > 0 ⇔ x > 0 for these units). */
function activationBackward(dy: tf.Tensor, y: tf.Tensor, act: ActivationSpec, rule: ReluRule): tf.Tensor {
  if (act.kind === 'linear') return dy;
  // Lucid redirects ReLU and ReLU6 only (a leaky ReLU's gradient never vanishes: the standard rule below).
  if (rule === 'redirected' && (act.kind === 'relu' || act.kind === 'relu6')) return redirectedGradient(dy, y, act.kind === 'relu6' ? 6 : undefined);
  if (rule === 'deconvnet') return act.kind === 'leakyrelu' ? tf.leakyRelu(dy, act.alpha) : tf.relu(dy);
  if ((act.kind === 'relu' || act.kind === 'relu6' || act.kind === 'leakyrelu') && hasKernel(RELU_BACKWARD)) {
    const attrs: ReluBackwardAttrs = { kind: act.kind, alpha: act.kind === 'leakyrelu' ? act.alpha : 0, guided: rule === 'guided' };
    return tf.engine().runKernel(RELU_BACKWARD, { dy, y }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  let slope = tf.step(y);
  if (act.kind === 'relu6') slope = tf.mul(slope, tf.step(tf.sub(6, y)));
  if (act.kind === 'leakyrelu') slope = tf.add(tf.mul(slope, 1 - act.alpha), act.alpha);
  const g = tf.mul(dy, slope);
  return rule === 'guided' ? tf.mul(g, tf.step(dy)) : g;
}
