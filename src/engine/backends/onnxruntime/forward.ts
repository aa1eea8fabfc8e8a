import * as tf from '@tensorflow/tfjs';
import type { ActivationSpec, IRGraph, IRNode } from '../../model/ir';
import { explicitPads, ceilExtra, type OpSpec, type SpatialPad, type SpatialPads } from '../../model/ops';
import type { WeightStore } from '../../model/weightStore';
import type { GraphBuilder } from './graphBuilder';

/**
 * Loupe's graph (NHWC, TF.js weights) as ONNX Runtime ops (NCHW, ONNX weights): every tensor of rank 4
 * is held channels-first inside the generated graph; the input and every output cross as NHWC.
 */

/** What the forward pass left for a node: its output, and for ops with a built-in activation the value before it. */
export interface Emitted {
  out: string;
  /** The op's output before its activation (conv/dense), when it has one that is not linear. */
  pre?: string;
  /** Rank of the value, batch included. */
  rank: number;
}

/** A model op the generated graph cannot express (the model then runs on TF.js, and says why). */
export class NotCompilable extends Error {
  override name = 'NotCompilable';
}

export class ForwardEmitter {
  readonly values = new Map<string, Emitted>();
  readonly byName: Map<string, IRNode>;
  /** Initializers already written, by weight and form: the backward pass reuses the forward's. */
  private readonly written = new Map<string, string>();
  private readonly affines = new Map<string, { scale: string; offset: string }>();

  /** `prepared`: weights already transformed for another program of the same store, shared by key. */
  constructor(readonly b: GraphBuilder, readonly graph: IRGraph, readonly store: WeightStore,
    private readonly prepared: Map<string, { data: Float32Array; shape: number[] }> = new Map()) {
    this.byName = new Map(graph.nodes.map((n) => [n.name, n]));
  }

  /** Emits the nodes `outputs` depend on, from the NHWC input `x`. */
  emit(x: string, outputs: string[]): void {
    const needed = new Set<string>();
    const stack = [...outputs];
    while (stack.length) {
      const name = stack.pop()!;
      if (needed.has(name)) continue;
      needed.add(name);
      stack.push(...this.node(name).inputs);
    }
    for (const node of this.graph.nodes) {
      if (!needed.has(node.name) || this.values.has(node.name)) continue;
      if (node.name === this.graph.inputName) {
        this.values.set(node.name, { out: this.b.op('Transpose', [x], { perm: [0, 3, 1, 2] }), rank: 4 });
        continue;
      }
      if (!node.op) throw new NotCompilable(`layer '${node.name}' (${node.className}) runs through a library implementation`);
      this.values.set(node.name, this.emitNode(node, node.op));
    }
  }

  node(name: string): IRNode {
    const n = this.byName.get(name);
    if (!n) throw new Error(`internal: unknown node '${name}'`);
    return n;
  }

  /** Input `k` of a node. */
  input(node: IRNode, k = 0): Emitted {
    return this.values.get(node.inputs[k]!)!;
  }

  /** [H, W] of a node's spatial input. */
  inputSize(node: IRNode, k = 0): [number, number] {
    const s = this.node(node.inputs[k]!).outputShape;
    return [s[0]!, s[1]!];
  }

  /**
   * A weight from the store, transformed, transposed by `perm` (numpy order) and reshaped to `dims`, written
   * once per `form` (a name for the transform; required with one).
   */
  weight(name: string, perm?: number[], dims?: number[], transform?: (t: tf.Tensor) => tf.Tensor, form = ''): string {
    const key = `${name}|${perm?.join()}|${dims?.join()}|${form}`;
    const known = this.written.get(key);
    if (known) return known;
    let prepared = this.prepared.get(key);
    if (!prepared) {
      const t = tf.tidy(() => {
        let w = this.store.get(name);
        if (transform) w = transform(w);
        return perm ? w.transpose(perm) : w.clone();
      });
      prepared = { data: Float32Array.from(t.dataSync() as Float32Array), shape: dims ?? t.shape };
      t.dispose();
      this.prepared.set(key, prepared);
    }
    const written = this.b.floats(name, prepared.shape, prepared.data);
    this.written.set(key, written);
    return written;
  }

  private emitNode(node: IRNode, op: OpSpec): Emitted {
    const b = this.b;
    const x = this.input(node);
    const rank = node.outputShape.length + 1;
    switch (op.op) {
      case 'input':
        throw new Error('internal: input emitted twice');
      case 'identity':
        return x;
      case 'conv': case 'separableConv': {
        const pre = this.conv(node, op, x.out);
        return this.withActivation(pre, op.activation, rank);
      }
      case 'dense': {
        if (x.rank !== 2) throw new NotCompilable(`dense layer '${node.name}' applied to a rank-${x.rank} tensor`);
        const w = this.weight(op.kernel);
        let y = b.op('MatMul', [x.out, w]);
        if (op.bias) y = b.op('Add', [y, this.weight(op.bias)]);
        return this.withActivation(y, op.activation, rank);
      }
      case 'batchNorm': {
        const { scale, offset } = this.affine(op, x.rank);
        return { out: b.op('Add', [b.op('Mul', [x.out, scale]), offset]), rank };
      }
      case 'activation':
        return { out: emitActivation(b, x.out, op.activation, x.rank), rank };
      case 'pool':
        return { out: this.pool(node, op, x.out), rank };
      case 'globalPool': {
        const y = b.op(op.mode === 'avg' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.out]);
        return { out: op.keepDims ? y : b.op('Flatten', [y], { axis: 1 }), rank };
      }
      case 'flatten':
        return { out: b.op('Flatten', [x.rank === 4 && !op.channelsFirst ? b.op('Transpose', [x.out], { perm: [0, 2, 3, 1] }) : x.out], { axis: 1 }), rank };
      case 'reshape': {
        const nhwc = x.rank === 4 ? b.op('Transpose', [x.out], { perm: [0, 2, 3, 1] }) : x.out;
        const y = b.op('Reshape', [nhwc, b.int64([-1, ...node.outputShape])]);
        return { out: rank === 4 ? b.op('Transpose', [y], { perm: [0, 3, 1, 2] }) : y, rank };
      }
      case 'elementwise': {
        const operands = op.operands.map((o) => ('input' in o ? this.input(node, o.input).out : this.constant(o.weight, rank)));
        return { out: elementwise(b, op.fn, operands), rank };
      }
      case 'concat': {
        const axis = op.axis < 0 ? op.axis + rank : op.axis;
        return { out: b.op('Concat', node.inputs.map((_, k) => this.input(node, k).out), { axis: rank === 4 ? [0, 2, 3, 1][axis]! : axis }), rank };
      }
      case 'pad': {
        const [[t, bottom], [l, r]] = op.pads;
        return { out: b.op('Pad', [x.out, b.int64([0, 0, t, l, 0, 0, bottom, r]), b.scalar(op.value)], { mode: 'constant' }), rank };
      }
      case 'crop': {
        const [[t, bottom], [l, r]] = op.crop;
        const [h, w] = this.inputSize(node);
        return { out: b.op('Slice', [x.out, b.int64([t, l]), b.int64([h - bottom, w - r]), b.int64([2, 3])]), rank };
      }
      case 'scale':
        return { out: b.op('Add', [b.op('Mul', [x.out, b.scalar(op.scale)]), b.scalar(op.offset)]), rank };
    }
  }

  /** A constant operand stored NHWC-broadcastable, as an NCHW-broadcastable initializer. */
  constant(weight: string, rank: number): string {
    const t = this.store.get(weight);
    const dims = [...new Array<number>(Math.max(0, rank - t.rank)).fill(1), ...t.shape];
    if (dims.length !== 4) return this.weight(weight, undefined, dims);
    return this.weight(weight, [0, 3, 1, 2], [dims[0]!, dims[3]!, dims[1]!, dims[2]!], (w) => w.reshape(dims), `rank${rank}`);
  }

  /** Per-channel scale and offset of a batch norm, broadcastable over NCHW. */
  affine(op: Extract<OpSpec, { op: 'batchNorm' }>, rank: number): { scale: string; offset: string } {
    const key = `${op.mean}|affine`;
    const known = this.affines.get(key);
    if (known) return known;
    const [scale, offset] = tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(this.store.get(op.variance), op.epsilon));
      const s = op.gamma ? tf.mul(inv, this.store.get(op.gamma)) : inv;
      let o = tf.neg(tf.mul(this.store.get(op.mean), s));
      if (op.beta) o = tf.add(o, this.store.get(op.beta));
      return [Float32Array.from(s.dataSync()), Float32Array.from(o.dataSync())];
    });
    const dims = rank === 4 ? [scale!.length, 1, 1] : [scale!.length];
    const written = { scale: this.b.floats('bn.scale', dims, scale!), offset: this.b.floats('bn.offset', dims, offset!) };
    this.affines.set(key, written);
    return written;
  }

  /** ONNX weights and attributes of a conv op (one part of a separable conv when `part` is given). */
  convParts(node: IRNode, op: Extract<OpSpec, { op: 'conv' | 'separableConv' }>): ConvPart[] {
    const [h, w] = this.inputSize(node);
    const spec = (kernel: string, depthwise: boolean, groups: number, strides: [number, number], dilations: [number, number],
      pad: SpatialPad, size: [number, number]): ConvPart => {
      const k = this.store.get(kernel);
      const [kh, kw, cin, cout] = k.shape as [number, number, number, number];
      const pads = Array.isArray(pad) ? pad : explicitPads(pad, size, [kh, kw], strides, dilations);
      return depthwise
        ? { kernel, kh, kw, inChannels: cin, outChannels: cin * cout, groups: cin, multiplier: cout, strides, dilations, pads, depthwise: true, size }
        : { kernel, kh, kw, inChannels: cin * groups, outChannels: cout, groups, multiplier: 1, strides, dilations, pads, depthwise: false, size };
    };
    if (op.op === 'conv') return [spec(op.kernel, op.depthwise, op.groups, op.strides, op.dilations, op.pad, [h, w])];
    const first = spec(op.depthwiseKernel, true, 1, op.strides, op.dilations, op.pad, [h, w]);
    const [oh, ow] = [node.outputShape[0]!, node.outputShape[1]!];
    return [first, spec(op.pointwiseKernel, false, 1, [1, 1], [1, 1], 'valid', [oh, ow])];
  }

  /** The ONNX form [out, in/groups, kh, kw] of a part's kernel. */
  onnxKernel(part: ConvPart): string {
    return part.depthwise
      ? this.weight(part.kernel, [2, 3, 0, 1], [part.outChannels, 1, part.kh, part.kw])
      : this.weight(part.kernel, [3, 2, 0, 1]);
  }

  private conv(node: IRNode, op: Extract<OpSpec, { op: 'conv' | 'separableConv' }>, x: string): string {
    let y = x;
    for (const part of this.convParts(node, op)) {
      y = this.b.op('Conv', [y, this.onnxKernel(part)], {
        group: part.groups, strides: part.strides, dilations: part.dilations, kernel_shape: [part.kh, part.kw],
        pads: [part.pads[0][0], part.pads[1][0], part.pads[0][1], part.pads[1][1]],
      });
    }
    return op.bias ? this.b.op('Add', [y, this.weight(op.bias, undefined, [this.store.get(op.bias).size, 1, 1])]) : y;
  }

  private withActivation(pre: string, spec: ActivationSpec, rank: number): Emitted {
    if (spec.kind === 'linear') return { out: pre, rank };
    return { out: emitActivation(this.b, pre, spec, rank), pre, rank };
  }

  private pool(node: IRNode, op: Extract<OpSpec, { op: 'pool' }>, x: string): string {
    const attrs = poolAttrs(op, this.inputSize(node));
    if (op.mode === 'max') return this.b.op('MaxPool', [x], attrs.onnx);
    if (!op.ceil || attrs.extra.every((e) => e === 0)) return this.b.op('AveragePool', [x], { ...attrs.onnx, ceil_mode: 0 });
    // ceil_mode rows beyond the padding never count (PyTorch): zero-pad them, then divide by what counts.
    throw new NotCompilable(`average pooling '${node.name}' with ceil_mode over a partial window`);
  }
}

export interface ConvPart {
  kernel: string;
  kh: number;
  kw: number;
  inChannels: number;
  outChannels: number;
  groups: number;
  multiplier: number;
  strides: [number, number];
  dilations: [number, number];
  pads: SpatialPads;
  depthwise: boolean;
  /** Input [H, W]. */
  size: [number, number];
}

export function poolAttrs(op: Extract<OpSpec, { op: 'pool' }>, size: [number, number]): {
  onnx: Record<string, number | number[]>; pads: SpatialPads; extra: [number, number];
} {
  const pads = Array.isArray(op.pad) ? op.pad : explicitPads(op.pad, size, op.size, op.strides, [1, 1]);
  const extra = op.ceil ? ceilExtra(size, op.size, op.strides, pads) : [0, 0] as [number, number];
  return {
    onnx: {
      kernel_shape: op.size, strides: op.strides, pads: [pads[0][0], pads[1][0], pads[0][1], pads[1][1]], ceil_mode: op.ceil ? 1 : 0,
      ...(op.mode === 'avg' ? { count_include_pad: op.countIncludePad ? 1 : 0 } : {}),
    },
    pads, extra,
  };
}

/** An activation as ONNX ops; `rank` places softmax's axis (channels of an NCHW tensor). */
export function emitActivation(b: GraphBuilder, x: string, spec: ActivationSpec, rank: number): string {
  switch (spec.kind) {
    case 'linear': return x;
    case 'relu': return b.op('Relu', [x]);
    case 'relu6': return b.op('Clip', [x, b.scalar(0), b.scalar(6)]);
    case 'clippedrelu': return b.op('Clip', [x, b.scalar(0), b.scalar(spec.max)]);
    case 'clip': return b.op('Clip', [x, b.scalar(spec.min), b.scalar(spec.max)]);
    case 'leakyrelu': return b.op('LeakyRelu', [x], { alpha: { float: spec.alpha } });
    case 'sigmoid': return b.op('Sigmoid', [x]);
    case 'tanh': return b.op('Tanh', [x]);
    case 'elu': return b.op('Elu', [x], { alpha: { float: 1 } });
    case 'selu': return b.op('Selu', [x]);
    case 'softplus': return b.op('Softplus', [x]);
    case 'softsign': return b.op('Softsign', [x]);
    case 'hardSigmoid': return b.op('HardSigmoid', [x], { alpha: { float: spec.alpha }, beta: { float: spec.beta } });
    case 'hardSwish': return b.op('HardSwish', [x]);
    case 'swish': return b.op('Mul', [x, b.op('Sigmoid', [x])]);
    case 'mish': return b.op('Mul', [x, b.op('Tanh', [b.op('Softplus', [x])])]);
    case 'gelu': return b.op('Mul', [b.op('Mul', [x, b.scalar(0.5)]), b.op('Add', [b.scalar(1), b.op('Erf', [b.op('Div', [x, b.scalar(Math.SQRT2)])])])]);
    case 'softmax': return b.op('Softmax', [x], { axis: rank === 4 ? 1 : -1 });
  }
}

export function elementwise(b: GraphBuilder, fn: Extract<OpSpec, { op: 'elementwise' }>['fn'], operands: string[]): string {
  switch (fn) {
    case 'add': return operands.length === 2 ? b.op('Add', operands) : b.op('Sum', operands);
    case 'sub': return b.op('Sub', operands);
    case 'mul': return operands.slice(1).reduce((p, c) => b.op('Mul', [p, c]), operands[0]!);
    case 'div': return b.op('Div', operands);
    case 'max': return b.op('Max', operands);
    case 'min': return b.op('Min', operands);
    case 'mean': return b.op('Mean', operands);
  }
}
