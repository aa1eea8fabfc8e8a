import { LoupeError } from '../../protocol/errors';
import type { IRNode } from './ir';
import type { OpSpec, SpatialPad } from './ops';

/**
 * Shapes a model declares, checked before a tensor is allocated: every dimension a positive integer,
 * and the activations of one forward pass within a memory budget. A shape that breaks these reaches
 * TF.js as a negative size (wasm kernels write outside their buffers) or as gigabytes allocated at once.
 */

/** Bytes of float32 activations of one image's forward pass: a gradient holds about three such sets (values, gradients, fused kernels' copies). */
export const ACTIVATION_BUDGET_BYTES = 512 * 1024 * 1024;
/** Largest side of a model's input. */
export const MAX_INPUT_SIDE = 8192;

export function checkInputShape(dims: unknown[], what: string, file: string): void {
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && (d as number) >= 1)) {
    throw new LoupeError('UNSUPPORTED_MODEL', `${what} is not [height, width, channels] of positive integers`, file,
      'Loupe needs a fixed-size image input [batch, height, width, channels]');
  }
  const [h, w, c] = dims as number[];
  if (h! > MAX_INPUT_SIDE || w! > MAX_INPUT_SIDE) {
    throw new LoupeError('UNSUPPORTED_MODEL', `${what} is larger than ${MAX_INPUT_SIDE} pixels on a side`, file, 'export the model for a smaller input');
  }
  if (h! * w! * c! * 4 > ACTIVATION_BUDGET_BYTES) {
    throw new LoupeError('UNSUPPORTED_MODEL', `${what} needs ${mb(h! * w! * c! * 4)} for the input alone`, file, 'export the model for a smaller input');
  }
}

/** Every node's output shape positive, and their sum within the activation budget. Names the node at fault. */
export function checkActivationBudget(nodes: Array<Pick<IRNode, 'name' | 'outputShape'>>, file: string): void {
  let total = 0;
  for (const node of nodes) {
    if (!node.outputShape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new LoupeError('MODEL_INVALID', `layer '${node.name}' would output the shape [${node.outputShape.join(', ')}]`, file,
        'every size must be a positive integer: the input is too small for this layer\'s window, or its strides or padding are wrong');
    }
    total += node.outputShape.reduce((a, b) => a * b, 1) * 4;
    if (total > ACTIVATION_BUDGET_BYTES) {
      throw new LoupeError('UNSUPPORTED_MODEL',
        `one image's activations up to layer '${node.name}' need more than ${mb(ACTIVATION_BUDGET_BYTES)}`, file,
        'Loupe refuses models this large before allocating them: export the model for a smaller input');
    }
  }
}

/**
 * Output shapes (batch axis left out, NHWC) of declared ops from their inputs' shapes and their weights'
 * shapes, without running anything. Throws a LoupeError naming the node when the shapes do not fit.
 */
export function staticShapes(nodes: IRNode[], inputShape: number[], weightShape: (name: string) => number[] | undefined, file: string): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const node of nodes) {
    const ins = node.inputs.map((i) => shapes.get(i));
    const bad = (problem: string) => new LoupeError('MODEL_INVALID', `node '${node.name}' ${problem}`, file, 'export the model again');
    if (ins.some((s) => s === undefined)) throw bad(`reads ${node.inputs.filter((_, k) => !ins[k]).map((n) => `'${n}'`).join(', ')} before it is computed`);
    const op = node.op;
    if (!op) throw bad('has no declared op');
    const shape = op.op === 'input' ? [...inputShape] : opShape(op, ins as number[][], weightShape, bad);
    if (!shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw bad(`would output the shape [${shape.join(', ')}] from [${ins.map((s) => `[${s!.join(', ')}]`).join(', ')}]: every size must be a positive integer`);
    }
    shapes.set(node.name, shape);
    checkActivationBudget([{ name: node.name, outputShape: shape }], file);
  }
  checkActivationBudget(nodes.map((n) => ({ name: n.name, outputShape: shapes.get(n.name)! })), file);
  return shapes;
}

type Bad = (problem: string) => LoupeError;

function opShape(op: OpSpec, ins: number[][], weightShape: (name: string) => number[] | undefined, bad: Bad): number[] {
  const x = ins[0] ?? [];
  const weight = (name: string, rank: number): number[] => {
    const s = weightShape(name);
    if (!s || s.length !== rank) throw bad(`needs the weight '${name}' of rank ${rank}, which the model ${s ? `gives as [${s.join(', ')}]` : 'does not have'}`);
    return s;
  };
  /** A bias adds one number per output channel: any other shape would broadcast the batch away. */
  const withBias = (shape: number[], bias: string | undefined): number[] => {
    if (bias === undefined) return shape;
    const b = weightShape(bias);
    if (!b || b.length !== 1 || b[0] !== shape[shape.length - 1]) throw bad(`has a bias '${bias}' of shape [${b?.join(', ') ?? ''}] for ${shape[shape.length - 1]} outputs`);
    return shape;
  };
  const spatial = (): [number, number, number] => {
    if (x.length !== 3) throw bad(`needs an [height, width, channels] input, got [${x.join(', ')}]`);
    return x as [number, number, number];
  };
  switch (op.op) {
    case 'input':
    case 'identity':
    case 'activation':
    case 'batchNorm':
    case 'scale':
      if (!ins[0]) throw bad('has no input');
      return [...x];
    case 'conv': {
      const [h, w, c] = spatial();
      const k = weight(op.kernel, 4);
      const inC = op.depthwise ? k[2]! : k[2]! * op.groups;
      if (inC !== c) throw bad(`has a kernel [${k.join(', ')}] for ${inC} input channels, but its input has ${c}`);
      const [oh, ow] = window([h, w], [k[0]!, k[1]!], op.strides, op.dilations, op.pad, false, bad);
      return withBias([oh, ow, op.depthwise ? c * k[3]! : k[3]!], op.bias);
    }
    case 'separableConv': {
      const [h, w, c] = spatial();
      const dw = weight(op.depthwiseKernel, 4);
      const pw = weight(op.pointwiseKernel, 4);
      if (dw[2] !== c || pw[2] !== c * dw[3]!) throw bad(`has kernels [${dw.join(', ')}] and [${pw.join(', ')}] that do not fit its ${c} input channels`);
      const [oh, ow] = window([h, w], [dw[0]!, dw[1]!], op.strides, op.dilations, op.pad, false, bad);
      return withBias([oh, ow, pw[3]!], op.bias);
    }
    case 'dense': {
      const k = weight(op.kernel, 2);
      if (x[x.length - 1] !== k[0]) throw bad(`has a kernel [${k.join(', ')}] but its input's last axis is ${x[x.length - 1]}`);
      return withBias([...x.slice(0, -1), k[1]!], op.bias);
    }
    case 'pool': {
      const [h, w, c] = spatial();
      const [oh, ow] = window([h, w], op.size, op.strides, [1, 1], op.pad, op.ceil, bad);
      return [oh, ow, c];
    }
    case 'globalPool': {
      const [, , c] = spatial();
      return op.keepDims ? [1, 1, c] : [c];
    }
    case 'flatten':
      return [x.reduce((a, b) => a * b, 1)];
    case 'reshape': {
      const size = x.reduce((a, b) => a * b, 1);
      const known = op.shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const free = op.shape.filter((d) => d === -1).length;
      if (!op.shape.every((d) => Number.isInteger(d) && (d >= 1 || d === -1)) || free > 1
        || (free === 0 ? known !== size : size % known !== 0)) {
        throw bad(`reshapes [${x.join(', ')}] to [${op.shape.join(', ')}], which does not hold the same number of values`);
      }
      return op.shape.map((d) => (d === -1 ? size / known : d));
    }
    case 'elementwise': {
      const shapes = op.operands.map((o) => ('input' in o ? ins[o.input] : weightShape(o.weight)));
      if (shapes.length === 0 || shapes.some((s) => s === undefined)) throw bad('has an operand the model does not have');
      const rank = Math.max(...shapes.map((s) => s!.length));
      const out: number[] = [];
      for (let d = 0; d < rank; d++) {
        const sizes = shapes.map((s) => s![s!.length - rank + d] ?? 1);
        const big = Math.max(...sizes);
        if (sizes.some((n) => n !== 1 && n !== big)) throw bad(`combines shapes ${shapes.map((s) => `[${s!.join(', ')}]`).join(' and ')} that do not broadcast`);
        out.push(big);
      }
      return out;
    }
    case 'concat': {
      const axis = (op.axis < 0 ? op.axis + x.length + 1 : op.axis) - 1;
      if (axis < 0 || axis >= x.length || !ins.every((s) => s.length === x.length && s.every((d, i) => i === axis || d === x[i]))) {
        throw bad(`concatenates [${ins.map((s) => `[${s.join(', ')}]`).join(', ')}] along axis ${op.axis}, which do not fit`);
      }
      return x.map((d, i) => (i === axis ? ins.reduce((s, t) => s + t[i]!, 0) : d));
    }
    case 'pad':
    case 'crop': {
      const [h, w, c] = spatial();
      const p = op.op === 'pad' ? op.pads : op.crop;
      const flat = [...p[0], ...p[1]];
      if (!flat.every((v) => Number.isInteger(v) && v >= 0)) throw bad(`has ${op.op === 'pad' ? 'padding' : 'cropping'} [${flat.join(', ')}]: it must be non-negative integers`);
      const sign = op.op === 'pad' ? 1 : -1;
      return [h + sign * (p[0][0] + p[0][1]), w + sign * (p[1][0] + p[1][1]), c];
    }
  }
}

/** Output height and width of a sliding window (TF's 'same'/'valid' rules; explicit padding; PyTorch's ceil mode). */
function window(size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number],
  pad: SpatialPad, ceil: boolean, bad: Bad): [number, number] {
  const ints = [...kernel, ...strides, ...dilations];
  if (!ints.every((v) => Number.isInteger(v) && v >= 1 && v <= 4096)) {
    throw bad(`has window ${kernel.join('×')}, strides ${strides.join('×')}, dilations ${dilations.join('×')}: each must be an integer from 1 to 4096`);
  }
  if (!Array.isArray(pad) && pad !== 'same' && pad !== 'valid') throw bad(`has padding ${JSON.stringify(pad)}: it must be 'same', 'valid' or explicit`);
  if (Array.isArray(pad) && !(pad.length === 2 && pad.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0)))) {
    throw bad(`has explicit padding ${JSON.stringify(pad)}: it must be [[top, bottom], [left, right]] of non-negative integers`);
  }
  return [0, 1].map((a) => {
    const n = size[a]!;
    const k = (kernel[a]! - 1) * dilations[a]! + 1;
    const s = strides[a]!;
    if (pad === 'same') return Math.ceil(n / s);
    const total = pad === 'valid' ? n : n + pad[a]![0] + pad[a]![1];
    const span = total - k;
    if (span < 0) return 0;
    return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  }) as [number, number];
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MB`;
}
