import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../../../protocol/errors';
import { finishGraph } from '../../head';
import type { ActivationSpec, IRGraph, IRNode } from '../../ir';
import { opNode } from '../../node';
import { explicitPads, weightsOf, type ElementwiseFn, type Operand, type OpSpec, type SpatialPad, type SpatialPads } from '../../ops';
import { WeightStore } from '../../weightStore';
import { permute } from '../../permute';
import { containerOutputs, loupeNames } from './names';
import type { OnnxAttr, OnnxModel, OnnxNode, OnnxTensor } from './proto';

/**
 * ONNX (NCHW, PyTorch's layout) → Loupe's graph (NHWC, TF.js's): each node becomes one declared op with
 * its weights transposed once here; shape arithmetic (the `x.view(x.size(0), -1)` pattern) is folded to
 * constants; anything else is refused by name. Shapes are tracked in NCHW without the batch axis.
 */

/** A value of the ONNX graph: a constant (integers may hold NaN for the symbolic batch size) or a node's output. */
type Value =
  | { kind: 'const'; dims: number[]; data: Float32Array | Float64Array }
  | { kind: 'node'; node: string; shape: number[] };

const BATCH = NaN;

export const SUPPORTED_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Softplus',
  'Softmax', 'Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool',
  'ReduceMean', 'ReduceMax', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Dropout', 'Identity', 'Pad', 'Constant',
  'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Cast', 'Slice', 'ConstantOfShape', 'Transpose (of constants)',
];

export function onnxToGraph(model: OnnxModel, size: [number, number] | undefined, sizeSource: string): IRGraph {
  return new Translator(model).run(size, sizeSource);
}

class Translator {
  private readonly values = new Map<string, Value>();
  private readonly nodes: IRNode[] = [];
  private readonly tensors = new Map<string, tf.Tensor>();
  private current!: OnnxNode;
  private names: { name: string; sourceName?: string }[] = [];

  constructor(private readonly model: OnnxModel) {}

  run(size: [number, number] | undefined, sizeSource: string): IRGraph {
    const { model } = this;
    const file = model.file;
    if (model.inputs.length !== 1) {
      throw new LoupeError('UNSUPPORTED_MODEL', `the graph has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')})`, file,
        'Loupe explains image classifiers with one image input');
    }
    if (model.outputs.length !== 1) {
      throw new LoupeError('UNSUPPORTED_MODEL', `the graph has ${model.outputs.length} outputs (${model.outputs.map((o) => o.name).join(', ')})`, file,
        'Loupe explains classifiers with one class-score output: export only the logits');
    }
    const input = model.inputs[0]!;
    const [, c, h, w] = input.dims;
    if (input.dims.length !== 4 || typeof c !== 'number') {
      throw new LoupeError('UNSUPPORTED_MODEL', `the input '${input.name}' has shape [${input.dims.join(', ')}]`, file,
        'Loupe needs an image input [batch, channels, height, width] with a fixed number of channels');
    }
    let height = typeof h === 'number' ? h : undefined;
    let width = typeof w === 'number' ? w : undefined;
    if (height === undefined || width === undefined) {
      if (!size) {
        throw new LoupeError('UNSUPPORTED_MODEL', `the input '${input.name}' has a symbolic size [${input.dims.join(', ')}]`, file,
          `say which size to feed it in ${sizeSource}: {"input": {"size": [224, 224]}} (height, width)`);
      }
      [height, width] = [height ?? size[0], width ?? size[1]];
    } else if (size && (size[0] !== height || size[1] !== width)) {
      throw new LoupeError('SIDECAR_INVALID', `"input.size" is [${size.join(', ')}] but the model's input is fixed at ${height}×${width}`, sizeSource,
        'remove "size" or set it to the model\'s size');
    }
    for (const [name, t] of model.initializers) this.values.set(name, { kind: 'const', dims: t.dims, data: t.data });
    this.values.set(input.name, { kind: 'node', node: input.name, shape: [c, height, width] });
    this.nodes.push(opNode({ name: input.name, className: 'InputLayer', inputs: [], outputShape: [height, width, c], params: 0 }, { op: 'input' }));
    this.names = loupeNames(model.nodes.map((n) => n.name), model.nodes.map((n) => n.opType), this.dynamicFlags(input.name));
    model.nodes.forEach((node, i) => {
      this.current = node;
      this.translate(node, i);
    });
    const out = this.values.get(model.outputs[0]!.name);
    if (out?.kind !== 'node') throw new LoupeError('MODEL_INVALID', `the output '${model.outputs[0]!.name}' does not depend on the input`, file);
    return finishGraph({
      format: 'onnx', name: input.name, inputName: input.name, inputShape: [height, width, c], nodes: this.nodes, outputName: out.node,
      weights: new WeightStore(this.tensors), opaque: [], file, aliases: this.containerAliases(),
    });
  }

  /** Container modules → the layer computing their output (names.ts containerOutputs), never shadowing a layer's name. */
  private containerAliases(): Record<string, string> {
    const { nodes, outputs } = this.model;
    const producer = new Map<string, number>();
    nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
    const readers = nodes.map(() => [] as number[]);
    nodes.forEach((n, i) => n.inputs.forEach((input) => {
      const p = producer.get(input);
      if (p !== undefined) readers[p]!.push(i);
    }));
    for (const o of outputs) {
      const p = producer.get(o.name);
      if (p !== undefined) readers[p]!.push(-1);
    }
    const owner = nodes.map((n) => {
      const v = this.values.get(n.outputs[0] ?? '');
      return v?.kind === 'node' ? v.node : undefined;
    });
    const layers = new Set(this.nodes.map((n) => n.name));
    return Object.fromEntries(Object.entries(containerOutputs(nodes.map((n) => n.name), owner, readers)).filter(([m]) => !layers.has(m)));
  }

  /** Which nodes depend on the input; refuses graphs that use a value before producing it (cycles, dangling names). */
  private dynamicFlags(inputName: string): boolean[] {
    const dynamic = new Set([inputName]);
    const known = new Set([inputName, ...this.model.initializers.keys(), '']);
    return this.model.nodes.map((n) => {
      for (const i of n.inputs) {
        if (!known.has(i)) {
          throw new LoupeError('MODEL_INVALID', `node '${n.name}' (${n.opType}) reads '${i}', which no earlier node produces`, this.model.file,
            'the graph is not in topological order, has a cycle or a dangling reference: export the model again');
        }
      }
      // Shape reads only the (static) shape: what follows it is arithmetic on constants.
      const isDynamic = n.opType !== 'Shape' && n.inputs.some((i) => dynamic.has(i));
      for (const o of n.outputs) {
        known.add(o);
        if (isDynamic) dynamic.add(o);
      }
      return isDynamic;
    });
  }

  private translate(node: OnnxNode, index: number): void {
    if (node.domain !== '') throw this.unsupported(`op '${node.domain}.${node.opType}'`);
    const inputs = node.inputs.map((name) => (name === '' ? undefined : this.values.get(name)));
    if (node.opType === 'Shape') {
      const v = this.dynamic(inputs[0], 0);
      const shape = [BATCH, ...v.shape];
      const rank = shape.length;
      const at = (k: number) => Math.min(rank, Math.max(0, k < 0 ? k + rank : k));
      const sliced = shape.slice(at(this.int('start', 0)), at(this.int('end', rank)));
      this.values.set(node.outputs[0]!, { kind: 'const', dims: [sliced.length], data: Float64Array.from(sliced) });
      return;
    }
    const isDynamic = inputs.some((v) => v?.kind === 'node');
    if (!isDynamic) {
      const folded = this.fold(node, inputs);
      node.outputs.forEach((o, k) => { if (folded[k]) this.values.set(o, folded[k]!); });
      return;
    }
    const { name, sourceName } = this.names[index]!;
    const result = this.opFor(node, inputs, name);
    if ('alias' in result) {
      this.values.set(node.outputs[0]!, result.alias);
      return;
    }
    const dynamicInputs = result.inputs.map((v) => v.node);
    const weights = weightsOf(result.op);
    const params = weights.reduce((s, k) => s + (this.tensors.get(k)?.size ?? 0), 0);
    this.nodes.push(opNode({
      name, className: node.opType, inputs: dynamicInputs, outputShape: toNhwc(result.shape), params,
      ...(sourceName !== undefined ? { sourceName } : {}),
    }, result.op));
    this.values.set(node.outputs[0]!, { kind: 'node', node: name, shape: result.shape });
  }

  private opFor(node: OnnxNode, inputs: (Value | undefined)[], name: string):
    { op: OpSpec; inputs: Extract<Value, { kind: 'node' }>[]; shape: number[] } | { alias: Value } {
    const x = inputs[0];
    const one = (op: OpSpec, shape: number[]) => ({ op, inputs: [this.dynamic(x, 0)], shape });
    const activation = (spec: ActivationSpec) => one({ op: 'activation', activation: spec }, this.dynamic(x, 0).shape);
    switch (node.opType) {
      case 'Conv':
        return this.conv(inputs, name);
      case 'BatchNormalization': {
        if (this.int('training_mode', 0) !== 0) throw this.unsupported('BatchNormalization in training mode');
        const [, scale, bias, mean, variance] = inputs.map((v, i) => (i === 0 ? undefined : this.constant(v, i)));
        const channels = this.dynamic(x, 0).shape[0]!;
        const keys = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((k) => `${name}/${k}`);
        [scale, bias, mean, variance].forEach((t, i) => {
          if (t!.data.length !== channels) throw this.invalid(`BatchNormalization input ${i + 1} holds ${t!.data.length} values for ${channels} channels`);
          this.addWeight(keys[i]!, [channels], t!.data);
        });
        return one({ op: 'batchNorm', gamma: keys[0]!, beta: keys[1]!, mean: keys[2]!, variance: keys[3]!, epsilon: this.float('epsilon', 1e-5) },
          this.dynamic(x, 0).shape);
      }
      case 'Relu': return activation({ kind: 'relu' });
      case 'LeakyRelu': return activation({ kind: 'leakyrelu', alpha: this.float('alpha', 0.01) });
      case 'Sigmoid': return activation({ kind: 'sigmoid' });
      case 'Tanh': return activation({ kind: 'tanh' });
      case 'Softplus': return activation({ kind: 'softplus' });
      case 'Selu': return activation({ kind: 'selu' });
      case 'HardSwish': return activation({ kind: 'hardSwish' });
      case 'HardSigmoid': return activation({ kind: 'hardSigmoid', alpha: this.float('alpha', 0.2), beta: this.float('beta', 0.5) });
      case 'Elu':
        if (this.float('alpha', 1) !== 1) throw this.unsupported(`Elu with alpha ${this.float('alpha', 1)}`);
        return activation({ kind: 'elu' });
      case 'Clip':
        return activation(this.clip(inputs));
      case 'Softmax': {
        const shape = this.dynamic(x, 0).shape;
        const axis = this.int('axis', this.model.opset >= 13 ? -1 : 1);
        if (shape.length !== 1 || (axis !== 1 && axis !== -1)) throw this.unsupported(`Softmax over axis ${axis} of a rank-${shape.length + 1} tensor`);
        return activation({ kind: 'softmax' });
      }
      case 'Dropout': case 'Identity':
        return one({ op: 'identity' }, this.dynamic(x, 0).shape);
      case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Max': case 'Min': case 'Sum': case 'Mean':
        return this.elementwise(node, inputs, name);
      case 'Concat': {
        const parts = inputs.map((v, i) => this.dynamic(v, i));
        const rank = parts[0]!.shape.length + 1;
        let axis = this.int('axis', 1);
        if (axis < 0) axis += rank;
        if (axis === 0) throw this.unsupported('Concat along the batch axis');
        const shape = [...parts[0]!.shape];
        shape[axis - 1] = parts.reduce((s, p) => s + p.shape[axis - 1]!, 0);
        return { op: { op: 'concat', axis: rank === 4 ? NCHW_TO_NHWC_AXIS[axis]! : axis }, inputs: parts, shape };
      }
      case 'MaxPool': case 'AveragePool':
        return this.pool(node, this.dynamic(x, 0));
      case 'GlobalAveragePool': case 'GlobalMaxPool': {
        const [c] = this.spatial(x).shape;
        return one({ op: 'globalPool', mode: node.opType === 'GlobalAveragePool' ? 'avg' : 'max', keepDims: true }, [c!, 1, 1]);
      }
      case 'ReduceMean': case 'ReduceMax': {
        const v = this.spatial(x);
        // Opset 18 moved the axes from an attribute to an input.
        const axes = this.model.opset >= 18 ? (inputs[1] ? Array.from(this.constant(inputs[1], 1).data) : []) : this.ints('axes', []);
        const norm = axes.map((a) => (a < 0 ? a + 4 : a)).sort();
        if (norm.join() !== '2,3') throw this.unsupported(`${node.opType} over axes [${axes.join(', ')}] (only the spatial axes 2, 3)`);
        const keep = this.int('keepdims', 1) === 1;
        return one({ op: 'globalPool', mode: node.opType === 'ReduceMean' ? 'avg' : 'max', keepDims: keep }, keep ? [v.shape[0]!, 1, 1] : [v.shape[0]!]);
      }
      case 'Flatten': {
        const v = this.dynamic(x, 0);
        const axis = this.int('axis', 1);
        if (axis !== 1) throw this.unsupported(`Flatten with axis ${axis}`);
        return one({ op: 'flatten', channelsFirst: true }, [v.shape.reduce((a, b) => a * b, 1)]);
      }
      case 'Reshape':
        return this.reshape(this.dynamic(x, 0), this.constant(inputs[1], 1));
      case 'Gemm': case 'MatMul':
        return this.dense(node, inputs, name);
      case 'Pad':
        return this.pad(inputs);
      default:
        throw this.unsupported(`op '${node.opType}'`);
    }
  }

  private conv(inputs: (Value | undefined)[], name: string) {
    const x = this.spatial(inputs[0]);
    const w = this.constant(inputs[1], 1);
    if (w.dims.length !== 4) throw this.unsupported(`a ${w.dims.length - 2}-D convolution`);
    const [out, perGroup, kh, kw] = w.dims as [number, number, number, number];
    const [channels, height, width] = x.shape as [number, number, number];
    const groups = this.int('group', 1);
    if (channels % groups !== 0 || out % groups !== 0 || perGroup !== channels / groups) {
      throw this.invalid(`Conv weights [${w.dims.join(', ')}] with group ${groups} do not fit ${channels} input channels`);
    }
    const strides = this.pair('strides', 1);
    const dilations = this.pair('dilations', 1);
    const pad = this.spatialPad([height, width], [kh, kw], strides, dilations);
    const depthwise = groups > 1 && groups === channels;
    const kernel = `${name}/kernel`;
    if (depthwise) {
      const m = out / channels;
      // [C·M, 1, kh, kw] → [kh, kw, C, M]
      this.addWeight(kernel, [kh, kw, channels, m], permute(w.data, [channels, m, kh, kw], [2, 3, 0, 1]));
    } else {
      // [O, I/g, kh, kw] → [kh, kw, I/g, O]
      this.addWeight(kernel, [kh, kw, perGroup, out], permute(w.data, [out, perGroup, kh, kw], [2, 3, 1, 0]));
    }
    const b = inputs[2] ? this.constant(inputs[2], 2) : undefined;
    if (b) {
      if (b.data.length !== out) throw this.invalid(`Conv bias holds ${b.data.length} values for ${out} output channels`);
      this.addWeight(`${name}/bias`, [out], b.data);
    }
    const pads = explicit(pad, [height, width], [kh, kw], strides, dilations);
    const outSize = (n: number, k: number, s: number, d: number, [p0, p1]: [number, number]) => Math.floor((n + p0 + p1 - ((k - 1) * d + 1)) / s) + 1;
    const shape = [out, outSize(height, kh, strides[0], dilations[0], pads[0]), outSize(width, kw, strides[1], dilations[1], pads[1])];
    if (shape[1]! < 1 || shape[2]! < 1) throw this.invalid(`Conv output would be ${shape[1]}×${shape[2]} for a ${height}×${width} input`);
    return {
      op: { op: 'conv' as const, kernel, ...(b ? { bias: `${name}/bias` } : {}), strides, dilations, pad, depthwise, groups: depthwise ? 1 : groups,
        activation: { kind: 'linear' } as ActivationSpec },
      inputs: [x], shape,
    };
  }

  private pool(node: OnnxNode, x: Extract<Value, { kind: 'node' }>) {
    if (x.shape.length !== 3) throw this.unsupported(`${node.opType} of a rank-${x.shape.length + 1} tensor`);
    const [channels, height, width] = x.shape as [number, number, number];
    const size = this.ints('kernel_shape', []);
    if (size.length !== 2) throw this.invalid(`${node.opType} needs a 2-D kernel_shape`);
    const dilations = this.pair('dilations', 1);
    if (dilations[0] !== 1 || dilations[1] !== 1) throw this.unsupported(`${node.opType} with dilations`);
    const strides = this.pair('strides', 1);
    const kernel: [number, number] = [size[0]!, size[1]!];
    const pad = this.spatialPad([height, width], kernel, strides, [1, 1]);
    const ceil = this.int('ceil_mode', 0) === 1;
    const pads = explicit(pad, [height, width], kernel, strides, [1, 1]);
    const outSize = (n: number, k: number, s: number, [p0, p1]: [number, number]) => {
      const span = n + p0 + p1 - k;
      let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      if (ceil && (o - 1) * s >= n + p0) o--;
      return o;
    };
    const shape = [channels, outSize(height, kernel[0], strides[0], pads[0]), outSize(width, kernel[1], strides[1], pads[1])];
    if (shape[1]! < 1 || shape[2]! < 1) throw this.invalid(`${node.opType} output would be ${shape[1]}×${shape[2]} for a ${height}×${width} input`);
    return {
      op: { op: 'pool' as const, mode: node.opType === 'MaxPool' ? 'max' as const : 'avg' as const, size: kernel, strides, pad, ceil,
        countIncludePad: this.int('count_include_pad', 0) === 1 },
      inputs: [x], shape,
    };
  }

  /** ONNX pads/auto_pad as Loupe's padding, 'same' or 'valid' where they equal TF's (the fused fast path). */
  private spatialPad(size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): SpatialPad {
    const auto = this.str('auto_pad', 'NOTSET');
    if (auto === 'VALID') return 'valid';
    if (auto === 'SAME_UPPER') return 'same';
    let pads: SpatialPads;
    if (auto === 'SAME_LOWER') {
      const same = explicitPads('same', size, kernel, strides, dilations);
      pads = [[same[0][1], same[0][0]], [same[1][1], same[1][0]]];
    } else {
      const p = this.ints('pads', [0, 0, 0, 0]);
      if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0)) throw this.invalid(`pads [${p.join(', ')}] are not four non-negative integers`);
      pads = [[p[0]!, p[2]!], [p[1]!, p[3]!]];
    }
    if (pads.flat().every((v) => v === 0)) return 'valid';
    const same = explicitPads('same', size, kernel, strides, dilations);
    return same.flat().join() === pads.flat().join() ? 'same' : pads;
  }

  private clip(inputs: (Value | undefined)[]): ActivationSpec {
    const bound = (i: number, attr: string, fallback: number) => {
      if (this.model.opset < 11) return this.float(attr, fallback);
      const v = inputs[i];
      return v ? this.constant(v, i).data[0]! : fallback;
    };
    const min = bound(1, 'min', -Infinity);
    const max = bound(2, 'max', Infinity);
    if (min === 0 && max === Infinity) return { kind: 'relu' };
    if (min === 0 && max === 6) return { kind: 'relu6' };
    if (min === 0) return { kind: 'clippedrelu', max };
    return { kind: 'clip', min, max };
  }

  private elementwise(node: OnnxNode, inputs: (Value | undefined)[], name: string) {
    const fn = ELEMENTWISE[node.opType]!;
    const dynamicInputs: Extract<Value, { kind: 'node' }>[] = [];
    const rank = Math.max(...inputs.map((v) => (v?.kind === 'node' ? v.shape.length + 1 : v?.dims.length ?? 0)));
    const operands: Operand[] = inputs.map((v, i) => {
      if (!v) throw this.invalid(`input ${i} is empty`);
      if (v.kind === 'node') {
        dynamicInputs.push(v);
        return { input: dynamicInputs.length - 1 };
      }
      const key = `${name}/const${i}`;
      const { dims, data } = constToNhwc(v, rank);
      this.addWeight(key, dims, data);
      return { weight: key };
    });
    const shapes = inputs.map((v) => (v!.kind === 'node' ? [1, ...v!.shape] : v!.dims));
    const shape = broadcast(shapes, () => this.invalid(`inputs of shapes ${shapes.map((s) => `[${s.join(', ')}]`).join(' and ')} do not broadcast`));
    if (shape[0] !== 1) throw this.unsupported(`${node.opType} with a constant that varies along the batch axis`);
    return { op: { op: 'elementwise' as const, fn, operands }, inputs: dynamicInputs, shape: shape.slice(1) };
  }

  private reshape(x: Extract<Value, { kind: 'node' }>, target: { dims: number[]; data: Float32Array | Float64Array }) {
    const t = Array.from(target.data);
    const total = x.shape.reduce((a, b) => a * b, 1);
    const batchLike = (v: number) => Number.isNaN(v) || v === 0 || v === 1 || v === -1;
    const rest = t.slice(1).map((v, i) => (v === 0 ? x.shape[i]! : v));
    const known = rest.filter((v) => v !== -1).reduce((a, b) => a * b, 1);
    const resolved = rest.map((v) => (v === -1 ? total / known : v));
    if (t.length === 2 && batchLike(t[0]!) && resolved[0] === total && (t[0] !== -1 || rest[0] !== -1)) {
      return x.shape.length === 1
        ? { alias: x as Value }
        : { op: { op: 'flatten' as const, channelsFirst: true }, inputs: [x], shape: [total] };
    }
    throw this.unsupported(`a Reshape of [${x.shape.join(', ')}] to [${t.map((v) => (Number.isNaN(v) ? 'batch' : v)).join(', ')}] (only flattening to [batch, features])`);
  }

  private dense(node: OnnxNode, inputs: (Value | undefined)[], name: string) {
    const x = this.dynamic(inputs[0], 0);
    if (x.shape.length !== 1) throw this.unsupported(`${node.opType} of a rank-${x.shape.length + 1} input (flatten it first)`);
    const w = this.constant(inputs[1], 1);
    if (w.dims.length !== 2) throw this.unsupported(`${node.opType} with a rank-${w.dims.length} weight`);
    if (node.opType === 'Gemm' && this.int('transA', 0) !== 0) throw this.unsupported('Gemm with transA');
    const transB = node.opType === 'Gemm' && this.int('transB', 0) === 1;
    const [inFeatures, outFeatures] = (transB ? [w.dims[1], w.dims[0]] : w.dims) as [number, number];
    if (inFeatures !== x.shape[0]) throw this.invalid(`${node.opType} weights [${w.dims.join(', ')}] do not fit ${x.shape[0]} input features`);
    const alpha = node.opType === 'Gemm' ? this.float('alpha', 1) : 1;
    const beta = node.opType === 'Gemm' ? this.float('beta', 1) : 1;
    const kernel = transB ? permute(w.data, w.dims, [1, 0]) : Float32Array.from(w.data);
    if (alpha !== 1) for (let i = 0; i < kernel.length; i++) kernel[i] = kernel[i]! * alpha;
    this.addWeight(`${name}/kernel`, [inFeatures, outFeatures], kernel);
    const c = inputs[2] ? this.constant(inputs[2], 2) : undefined;
    if (c) {
      if (c.data.length !== outFeatures && c.data.length !== 1) throw this.invalid(`Gemm bias holds ${c.data.length} values for ${outFeatures} outputs`);
      const bias = Float32Array.from({ length: outFeatures }, (_, i) => beta * c.data[c.data.length === 1 ? 0 : i]!);
      this.addWeight(`${name}/bias`, [outFeatures], bias);
    }
    return {
      op: { op: 'dense' as const, kernel: `${name}/kernel`, ...(c ? { bias: `${name}/bias` } : {}), activation: { kind: 'linear' } as ActivationSpec },
      inputs: [x], shape: [outFeatures],
    };
  }

  private pad(inputs: (Value | undefined)[]) {
    const x = this.spatial(inputs[0]);
    const mode = this.str('mode', 'constant');
    if (mode !== 'constant') throw this.unsupported(`Pad in '${mode}' mode`);
    let pads = this.model.opset < 11 ? this.ints('pads', []) : Array.from(this.constant(inputs[1], 1).data);
    const value = this.model.opset < 11 ? this.float('value', 0) : inputs[2] ? this.constant(inputs[2], 2).data[0] ?? 0 : 0;
    if (inputs[3]) {
      // Opset 18: pads for the listed axes only.
      const axes = Array.from(this.constant(inputs[3], 3).data).map((a) => (a < 0 ? a + 4 : a));
      const full = new Array<number>(8).fill(0);
      axes.forEach((a, i) => { full[a] = pads[i]!; full[a + 4] = pads[i + axes.length]!; });
      pads = full;
    }
    if (pads.length !== 8 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw this.unsupported(`Pad with pads [${pads.join(', ')}]`);
    if (pads[0] || pads[1] || pads[4] || pads[5]) throw this.unsupported('padding of the batch or channel axis');
    const [c, h, w] = x.shape as [number, number, number];
    return {
      op: { op: 'pad' as const, pads: [[pads[2]!, pads[6]!], [pads[3]!, pads[7]!]] as SpatialPads, value },
      inputs: [x], shape: [c, h + pads[2]! + pads[6]!, w + pads[3]! + pads[7]!],
    };
  }

  /**
   * Evaluates a node whose inputs are all constants: Constant nodes and the shape arithmetic exporters
   * leave unfolded (a computed Reshape target, F.pad's pads chain). Small tensors, evaluated with TF.js.
   */
  private fold(node: OnnxNode, inputs: (Value | undefined)[]): Value[] {
    const consts = inputs.map((v, i) => (v ? this.constant(v, i) : undefined));
    const float = consts[0]?.data instanceof Float32Array;
    const result = (t: tf.Tensor, isFloat = float): Value[] => {
      const data = t.dataSync();
      return [{ kind: 'const', dims: t.shape, data: isFloat ? Float32Array.from(data) : Float64Array.from(data) }];
    };
    const ints = (i: number): number[] => (consts[i] ? Array.from(consts[i]!.data) : []);
    const axesFrom = (i: number, attr: string) => (this.model.opset >= 13 && node.inputs.length > i ? ints(i) : this.ints(attr, []));
    switch (node.opType) {
      case 'Constant': {
        const t = node.attrs.get('value');
        if (isTensor(t)) return [{ kind: 'const', dims: t.dims, data: t.data }];
        const f = node.attrs.get('value_float');
        if (typeof f === 'number') return [{ kind: 'const', dims: [], data: Float32Array.of(f) }];
        const i = node.attrs.get('value_int');
        if (typeof i === 'number') return [{ kind: 'const', dims: [], data: Float64Array.of(i) }];
        const is = node.attrs.get('value_ints');
        if (Array.isArray(is)) return [{ kind: 'const', dims: [is.length], data: Float64Array.from(is) }];
        throw this.unsupported('a Constant without a tensor value');
      }
      case 'Identity': case 'Cast': case 'Dropout':
        return [inputs[0]!];
    }
    // A scope frees every tensor made below; the results leave as arrays (tidy returns only tensors).
    tf.engine().startScope();
    try {
      const t = (i: number) => tf.tensor(Float32Array.from(consts[i]!.data), consts[i]!.dims, 'float32');
      switch (node.opType) {
        case 'ConstantOfShape': {
          const value = node.attrs.get('value');
          const fill = isTensor(value) ? value.data[0]! : 0;
          return result(tf.fill(ints(0), fill), !isTensor(value) || value.data instanceof Float32Array);
        }
        case 'Unsqueeze': {
          const dims = [...consts[0]!.dims];
          const rank = dims.length + axesFrom(1, 'axes').length;
          for (const a of axesFrom(1, 'axes').map((v) => (v < 0 ? v + rank : v)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
          return result(t(0).reshape(dims));
        }
        case 'Squeeze': {
          const axes = axesFrom(1, 'axes');
          return result(tf.squeeze(t(0), axes.length ? axes : undefined));
        }
        case 'Reshape': {
          const target = ints(1).map((d, k) => (d === 0 ? consts[0]!.dims[k]! : d));
          return result(t(0).reshape(target));
        }
        case 'Transpose': {
          const perm = this.ints('perm', []);
          return result(t(0).transpose(perm.length ? perm : undefined));
        }
        case 'Gather': {
          const indices = ints(1).map((k) => (k < 0 ? k + consts[0]!.dims[this.int('axis', 0)]! : k));
          return result(tf.gather(t(0), tf.tensor(indices, consts[1]!.dims, 'int32'), this.int('axis', 0)));
        }
        case 'Concat': {
          const rank = consts[0]!.dims.length;
          const axis = this.int('axis', 0);
          return result(tf.concat(consts.map((_, i) => t(i)), axis < 0 ? axis + rank : axis));
        }
        case 'Slice': {
          const x = t(0);
          const rank = x.rank;
          const starts = this.model.opset >= 10 ? ints(1) : this.ints('starts', []);
          const ends = this.model.opset >= 10 ? ints(2) : this.ints('ends', []);
          const axes = (this.model.opset >= 10 ? (consts[3] ? ints(3) : []) : this.ints('axes', [])).map((a) => (a < 0 ? a + rank : a));
          const steps = consts[4] ? ints(4) : [];
          const begin = new Array<number>(rank).fill(0);
          const end = [...x.shape];
          const stride = new Array<number>(rank).fill(1);
          // ONNX clamps indices (−1 is "before the first" for a negative step); TF reads negatives from the end: use its end mask.
          let endMask = 0;
          starts.forEach((st, k) => {
            const axis = axes.length ? axes[k]! : k;
            const n = x.shape[axis]!;
            const step = steps[k] ?? 1;
            const clamp = (v: number) => Math.min(step < 0 ? n - 1 : n, Math.max(step < 0 ? -1 : 0, v < 0 ? v + n : v));
            begin[axis] = clamp(st);
            end[axis] = clamp(ends[k]!);
            stride[axis] = step;
            if (end[axis] === -1) endMask |= 1 << axis;
          });
          return result(tf.stridedSlice(x, begin, end, stride, 0, endMask));
        }
        case 'Add': case 'Sub': case 'Mul': case 'Div': {
          const f = { Add: tf.add, Sub: tf.sub, Mul: tf.mul, Div: tf.div }[node.opType as 'Add'];
          const y = f(t(0), t(1));
          return result(node.opType === 'Div' && !float ? tf.floor(y) : y);
        }
        default:
          throw this.unsupported(`op '${node.opType}' on constants`);
      }
    } finally {
      tf.engine().endScope();
    }
  }

  private dynamic(v: Value | undefined, i: number): Extract<Value, { kind: 'node' }> {
    if (v?.kind !== 'node') throw this.unsupported(`a constant as input ${i}`);
    return v;
  }

  private spatial(v: Value | undefined): Extract<Value, { kind: 'node' }> {
    const d = this.dynamic(v, 0);
    if (d.shape.length !== 3) throw this.unsupported(`${this.current.opType} of a rank-${d.shape.length + 1} tensor (expects [batch, C, H, W])`);
    return d;
  }

  /** The constant behind a value, also when the input image reaches it only through shape arithmetic. */
  private constant(v: Value | undefined, i: number): { dims: number[]; data: Float32Array | Float64Array } {
    if (!v) throw this.invalid(`input ${i} is missing`);
    if (v.kind === 'node') throw this.unsupported(`a computed value as input ${i} (Loupe needs a constant there)`);
    return v;
  }

  private addWeight(key: string, dims: number[], data: Float32Array | Float64Array): void {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) throw this.invalid(`weight '${key}' holds a non-finite value (${data[i]}) at index ${i}`, 'WEIGHTS_INVALID');
    }
    this.tensors.set(key, tf.tensor(data instanceof Float32Array ? data : Float32Array.from(data), dims, 'float32'));
  }

  private attr(name: string): OnnxAttr {
    return this.current.attrs.get(name);
  }

  private int(name: string, fallback: number): number {
    const v = this.attr(name);
    return typeof v === 'number' ? v : fallback;
  }

  private float(name: string, fallback: number): number {
    return this.int(name, fallback);
  }

  private str(name: string, fallback: string): string {
    const v = this.attr(name);
    return typeof v === 'string' ? v : fallback;
  }

  private ints(name: string, fallback: number[]): number[] {
    const v = this.attr(name);
    return Array.isArray(v) ? v : fallback;
  }

  private pair(name: string, fallback: number): [number, number] {
    const v = this.ints(name, [fallback, fallback]);
    if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) throw this.invalid(`${name} [${v.join(', ')}] must be two positive integers`);
    return [v[0]!, v[1]!];
  }

  private unsupported(what: string): LoupeError {
    const n = this.current;
    return new LoupeError('UNSUPPORTED_MODEL', `node '${n?.name ?? '?'}' uses ${what}, which Loupe does not support`, this.model.file,
      `supported ONNX ops: ${SUPPORTED_OPS.join(', ')}`);
  }

  private invalid(what: string, code: 'MODEL_INVALID' | 'WEIGHTS_INVALID' = 'MODEL_INVALID'): LoupeError {
    return new LoupeError(code, `node '${this.current?.name ?? '?'}' (${this.current?.opType ?? '?'}): ${what}`, this.model.file,
      'the file is damaged or not what torch.onnx.export writes: export the model again');
  }
}

const ELEMENTWISE: Record<string, ElementwiseFn> = { Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div', Max: 'max', Min: 'min', Sum: 'add', Mean: 'mean' };
/** Axis of an NCHW tensor → the same axis of its NHWC form. */
const NCHW_TO_NHWC_AXIS = [0, 3, 1, 2];

function isTensor(v: OnnxAttr): v is OnnxTensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'dims' in v;
}

function toNhwc(shape: number[]): number[] {
  return shape.length === 3 ? [shape[1]!, shape[2]!, shape[0]!] : shape;
}

function explicit(pad: SpatialPad, size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): SpatialPads {
  return Array.isArray(pad) ? pad : explicitPads(pad, size, kernel, strides, dilations);
}

/** A constant operand of an elementwise op, broadcast to `rank` and moved from NCHW to NHWC. */
function constToNhwc(v: { dims: number[]; data: Float32Array | Float64Array }, rank: number): { dims: number[]; data: Float32Array } {
  const dims = [...new Array<number>(Math.max(0, rank - v.dims.length)).fill(1), ...v.dims];
  const data = Float32Array.from(v.data);
  if (dims.length !== 4) return { dims, data };
  return { dims: [dims[0]!, dims[2]!, dims[3]!, dims[1]!], data: permute(data, dims, [0, 2, 3, 1]) };
}

function broadcast(shapes: number[][], fail: () => Error): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const padded = [...new Array<number>(rank - s.length).fill(1), ...s];
    padded.forEach((d, i) => {
      if (d === 1) return;
      if (out[i] !== 1 && out[i] !== d) throw fail();
      out[i] = d;
    });
  }
  return out;
}
