import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../protocol/errors';
import type { ModelFiles } from '../io/modelFiles';
import { runGraph } from './executor';
import { activationByName } from './activations';
import { finishGraph } from './head';
import type { ActivationSpec, IRNode } from './ir';
import { opNode } from './node';
import type { Operand, OpSpec, SpatialPad } from './ops';
import { WeightStore } from './weightStore';
import { kerasLayerOfOpPath } from '../../protocol/layerNames';
import { orderGraphDefs } from './graphDefOrder';
import { checkInputShape, staticShapes } from './shapeBudget';

interface AttrValue {
  i?: string | number; f?: number; s?: string; b?: boolean; type?: string;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size: string | number }[] };
}
interface GraphNodeDef { name: string; op: string; input?: string[]; attr?: Record<string, AttrValue> }

const decode = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');
const ints = (a: AttrValue | undefined): number[] => (Array.isArray(a?.list?.i) ? a!.list!.i!.map(Number) : []);

const FUSED_ACTIVATIONS: Record<string, string> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Sigmoid: 'sigmoid', Tanh: 'tanh', Selu: 'selu' };

/**
 * Interprets a tfjs-converter graph model as Loupe's graph, op by op, so that graph models get the same
 * backward rules as layers models. Ops outside this table are refused by name.
 */
export function graphModelToGraph(files: ModelFiles): ReturnType<typeof finishGraph> {
  const file = files.file;
  const topology = files.artifacts.modelTopology as { node?: unknown };
  const defs = orderGraphDefs<GraphNodeDef>(topology.node ?? [], file);
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(files.artifacts.weightData as ArrayBuffer, files.artifacts.weightSpecs ?? []);
  } catch (e) {
    throw new LoupeError('WEIGHTS_INVALID', `cannot decode the weights: ${(e as Error).message}`, file, 're-export the model');
  }
  const tensors = new Map(Object.entries(named));
  const consts = new Set<string>();
  const placeholders = defs.filter((d) => d.op === 'Placeholder');
  if (placeholders.length !== 1) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the graph has ${placeholders.length} inputs`, file, 'Loupe explains models with one image input');
  }
  const inputDef = placeholders[0]!;
  const dimList = inputDef.attr?.shape?.shape?.dim;
  const dims = (Array.isArray(dimList) ? dimList : []).map((d) => Number(d?.size));
  if (dims.length !== 4) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the graph's input '${inputDef.name}' has shape [${dims.join(', ')}]`, file,
      'Loupe needs a fixed-size image input [batch, height, width, channels]');
  }
  checkInputShape(dims.slice(1), `the graph's input '${inputDef.name}' of shape [${dims.join(', ')}]`, file);
  const nodes: IRNode[] = [];
  const consumed = new Set<string>();
  for (const def of defs) {
    if (def.op === 'Const') {
      consts.add(def.name);
      if (!tensors.has(def.name)) {
        throw new LoupeError('WEIGHTS_INVALID', `constant '${def.name}' has no entry in the weights manifest`, file, 're-export the model');
      }
      continue;
    }
    const inputs = (def.input ?? []).filter((i) => !i.startsWith('^')).map((i) => i.replace(/:0$/, ''));
    const dynamic = inputs.filter((i) => !consts.has(i));
    dynamic.forEach((d) => consumed.add(d));
    if (def.op === 'Placeholder') {
      nodes.push(opNode({ name: def.name, className: 'InputLayer', inputs: [], outputShape: [], params: 0 }, { op: 'input' }));
      continue;
    }
    const built = opFor(def, inputs, consts, tensors, file);
    // A converted Keras model's op links to code through the Keras layer inside its path (`conv2d_5`).
    const keras = kerasLayerOfOpPath(def.name);
    nodes.push(opNode({ name: def.name, className: built.className, inputs: dynamic, outputShape: [], params: 0,
      ...(built.activation ? { activation: built.activation } : {}), ...(keras ? { sourceName: keras } : {}) }, built.op));
  }
  const outputs = nodes.filter((n) => n.className !== 'InputLayer' && !consumed.has(n.name));
  if (outputs.length !== 1) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the graph has ${outputs.length} outputs (${outputs.map((o) => o.name).join(', ')})`, file,
      'Loupe explains classifiers with one class-score output');
  }
  const store = new WeightStore(tensors);
  const draft = {
    format: 'graph' as const,
    name: String((files.artifacts.userDefinedMetadata as { name?: string } | undefined)?.name ?? inputDef.name),
    inputName: inputDef.name,
    inputShape: dims.slice(1) as [number, number, number],
    nodes,
    weights: store,
    opaque: [],
  };
  // Shapes are checked from the declarations before the forward pass that measures them allocates anything.
  staticShapes(nodes, draft.inputShape, (name) => (tensors.has(name) ? tensors.get(name)!.shape : undefined), file);
  inferShapes(draft, file);
  for (const n of nodes) n.params = n.weightNames.reduce((s, w) => s + (tensors.get(w)?.size ?? 0), 0);
  return finishGraph({ ...draft, outputName: outputs[0]!.name, file });
}

/** Output shapes come from one forward pass on zeros: the graph format does not store them. */
function inferShapes(draft: { nodes: IRNode[]; inputShape: number[]; inputName: string; weights: WeightStore }, file: string): void {
  tf.tidy(() => {
    const x = tf.zeros([1, ...draft.inputShape]);
    const names = draft.nodes.map((n) => n.name);
    let outs: tf.Tensor[];
    try {
      outs = runGraph({ ...draft, format: 'graph', name: '', logitsName: '', head: 'logits', numClasses: 0, opaque: [],
        inputShape: draft.inputShape as [number, number, number] }, x, { outputs: names });
    } catch (e) {
      throw new LoupeError('MODEL_INVALID', `the graph does not run on a ${draft.inputShape.join('×')} input: ${(e as Error).message}`, file);
    }
    draft.nodes.forEach((n, i) => { n.outputShape = outs[i]!.shape.slice(1); });
  });
}

interface BuiltOp { className: string; op: OpSpec; activation?: string }

/** The op of one converter node; `constInputs` are the names of its constant inputs (weights, shapes, axes). */
function opFor(def: GraphNodeDef, inputs: string[], consts: Set<string>, tensors: Map<string, tf.Tensor>, file: string): BuiltOp {
  const a = def.attr ?? {};
  const constInputs = inputs.filter((i) => consts.has(i));
  const constValues = (i: number): number[] => Array.from(tensors.get(constInputs[i]!)!.dataSync());
  const fused = (Array.isArray(a.fused_ops?.list?.s) ? a.fused_ops!.list!.s! : []).map((f) => decode(String(f)));
  const activationName = fused.find((f) => f !== 'BiasAdd');
  let spec: ActivationSpec = { kind: 'linear' };
  if (activationName === 'LeakyRelu') spec = { kind: 'leakyrelu', alpha: Number(a.leakyrelu_alpha?.f ?? 0.2) };
  else if (activationName) {
    const known = FUSED_ACTIVATIONS[activationName];
    if (!known) throw unsupported(def, file, `fused op '${activationName}'`);
    spec = activationByName(known, def.name, file);
  }
  const bias = fused.includes('BiasAdd') ? { bias: constInputs[1]! } : {};
  checkArity(def, inputs.length - constInputs.length, constInputs.length, fused.includes('BiasAdd') ? 1 : 0, file);
  const convAttrs = (): { strides: [number, number]; dilations: [number, number]; pad: SpatialPad } => {
    const s = ints(a.strides);
    const d = ints(a.dilations);
    const padding = decode(a.padding?.s);
    let pad: SpatialPad;
    if (padding === 'EXPLICIT') {
      const p = ints(a.explicit_paddings);
      if (p.length !== 8 || !p.every((v) => Number.isInteger(v) && v >= 0)) {
        throw new LoupeError('MODEL_INVALID', `graph node '${def.name}' has explicit_paddings [${p.join(', ')}]: it needs 8 non-negative integers`, file,
          'export the model again');
      }
      pad = [[p[2]!, p[3]!], [p[4]!, p[5]!]];
    } else if (padding === 'SAME' || padding === 'VALID') pad = padding.toLowerCase() as 'same' | 'valid';
    else throw unsupported(def, file, `padding '${padding}'`);
    if (a.data_format && decode(a.data_format.s) !== 'NHWC') throw unsupported(def, file, 'data format other than NHWC');
    return { strides: [s[1] ?? 1, s[2] ?? 1], dilations: [d[1] ?? 1, d[2] ?? 1], pad };
  };
  const act = spec.kind === 'linear' ? {} : { activation: activationName!.toLowerCase() };
  const operands = (): Operand[] => inputs.map((name) => (consts.has(name) ? { weight: name } : { input: inputs.filter((i) => !consts.has(i)).indexOf(name) }));
  switch (def.op) {
    case 'Identity': case 'StopGradient': case 'Snapshot':
      return { className: 'Identity', op: { op: 'identity' } };
    case 'Conv2D': case '_FusedConv2D':
      return { className: 'Conv2D', ...act, op: { op: 'conv', kernel: constInputs[0]!, ...bias, ...convAttrs(), depthwise: false, groups: 1, activation: spec } };
    case 'DepthwiseConv2dNative': case 'FusedDepthwiseConv2dNative':
      return { className: 'DepthwiseConv2D', ...act, op: { op: 'conv', kernel: constInputs[0]!, ...bias, ...convAttrs(), depthwise: true, groups: 1, activation: spec } };
    case 'MatMul': case '_FusedMatMul': {
      if (a.transpose_a?.b) throw unsupported(def, file, 'a transposed input (transpose_a)');
      let kernel = constInputs[0]!;
      if (a.transpose_b?.b) {
        // Dense kernels are [in, out]: keep a transposed copy under its own name.
        const transposed = `${kernel}#T`;
        if (!tensors.has(transposed)) tensors.set(transposed, tensors.get(kernel)!.transpose());
        kernel = transposed;
      }
      return { className: 'Dense', ...act, op: { op: 'dense', kernel, ...bias, activation: spec } };
    }
    case 'BiasAdd': case 'Add': case 'AddV2':
      return { className: 'Add', op: { op: 'elementwise', fn: 'add', operands: operands() } };
    case 'Sub':
      return { className: 'Subtract', op: { op: 'elementwise', fn: 'sub', operands: operands() } };
    case 'Mul':
      return { className: 'Multiply', op: { op: 'elementwise', fn: 'mul', operands: operands() } };
    case 'RealDiv':
      return { className: 'Divide', op: { op: 'elementwise', fn: 'div', operands: operands() } };
    case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'Selu': case 'Softplus': case 'Softmax': {
      const s = activationByName(def.op === 'Softmax' ? 'softmax' : def.op.toLowerCase(), def.name, file);
      return { className: def.op === 'Softmax' ? 'Softmax' : 'Activation', activation: def.op.toLowerCase(), op: { op: 'activation', activation: s } };
    }
    case 'LeakyRelu':
      return { className: 'LeakyReLU', activation: 'leakyrelu', op: { op: 'activation', activation: { kind: 'leakyrelu', alpha: Number(a.alpha?.f ?? 0.2) } } };
    case 'MaxPool': case 'AvgPool': {
      const k = ints(a.ksize);
      const s = ints(a.strides);
      return {
        className: def.op === 'MaxPool' ? 'MaxPooling2D' : 'AveragePooling2D',
        op: { op: 'pool', mode: def.op === 'MaxPool' ? 'max' : 'avg', size: [k[1]!, k[2]!], strides: [s[1]!, s[2]!],
          pad: decode(a.padding?.s).toLowerCase() as 'same' | 'valid', ceil: false, countIncludePad: false },
      };
    }
    case 'Mean': case 'Max': {
      const axes = constValues(0).map((x) => (x < 0 ? x + 4 : x)).sort();
      if (axes.join() !== '1,2') throw unsupported(def, file, `a ${def.op} over axes [${axes.join(', ')}] (only the spatial axes 1, 2)`);
      return {
        className: def.op === 'Mean' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D',
        op: { op: 'globalPool', mode: def.op === 'Mean' ? 'avg' : 'max', keepDims: Boolean(a.keep_dims?.b) },
      };
    }
    case 'Reshape':
      return { className: 'Reshape', op: { op: 'reshape', shape: constValues(0).slice(1) } };
    case 'Squeeze': {
      const axes = ints(a.squeeze_dims).map((x) => (x < 0 ? x + 4 : x)).sort();
      if (axes.join() !== '1,2') throw unsupported(def, file, `a Squeeze of axes [${axes.join(', ')}] (only the spatial axes 1, 2)`);
      return { className: 'Reshape', op: { op: 'flatten', channelsFirst: false } };
    }
    case 'ConcatV2':
      return { className: 'Concatenate', op: { op: 'concat', axis: constValues(constInputs.length - 1)[0]! } };
    case 'Pad': {
      const p = constValues(0);
      if (p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) throw unsupported(def, file, 'padding of the batch or channel axis');
      return { className: 'ZeroPadding2D', op: { op: 'pad', pads: [[p[2]!, p[3]!], [p[4]!, p[5]!]], value: 0 } };
    }
    case 'FusedBatchNorm': case 'FusedBatchNormV3': {
      const [gamma, beta, mean, variance] = constInputs;
      return {
        className: 'BatchNormalization',
        op: { op: 'batchNorm', gamma: gamma!, beta: beta!, mean: mean!, variance: variance!, epsilon: Number(a.epsilon?.f ?? 1e-3) },
      };
    }
    default:
      throw unsupported(def, file, `op '${def.op}'`);
  }
}

/** Constant inputs (weights, axes, shapes) each op needs; every op but the elementwise ones and ConcatV2 reads one tensor. */
const CONST_INPUTS: Record<string, number> = {
  Conv2D: 1, _FusedConv2D: 1, DepthwiseConv2dNative: 1, FusedDepthwiseConv2dNative: 1, MatMul: 1, _FusedMatMul: 1,
  Mean: 1, Max: 1, Reshape: 1, Pad: 1, ConcatV2: 1, FusedBatchNorm: 4, FusedBatchNormV3: 4,
};
const MANY_INPUTS = new Set(['BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'ConcatV2']);

/** A node whose inputs are not what its op reads (a weight where a tensor goes, a missing bias) is refused by name. */
function checkArity(def: GraphNodeDef, dynamic: number, constant: number, fusedBias: number, file: string): void {
  const needConst = (CONST_INPUTS[def.op] ?? 0) + fusedBias;
  const okDynamic = MANY_INPUTS.has(def.op) ? dynamic >= 1 : dynamic === 1;
  const okConst = MANY_INPUTS.has(def.op) ? constant >= needConst : constant === needConst;
  if (!okDynamic || !okConst) {
    throw new LoupeError('MODEL_INVALID', `graph node '${def.name}' (${def.op}) reads ${dynamic} tensor${dynamic === 1 ? '' : 's'} and ${constant} constant${constant === 1 ? '' : 's'}; `
      + `it needs ${MANY_INPUTS.has(def.op) ? 'at least one' : 'one'} tensor and ${needConst} constant${needConst === 1 ? '' : 's'}`, file, 'export the model again');
  }
}

function unsupported(def: GraphNodeDef, file: string, what: string): LoupeError {
  return new LoupeError('UNSUPPORTED_MODEL', `graph node '${def.name}' uses ${what}, which Loupe does not support yet`, file,
    'supported: Conv2D, DepthwiseConv2dNative (plain or fused with BiasAdd and an activation), MatMul, BiasAdd/Add/Sub/Mul, ReLU family, pooling, Mean, Reshape, ConcatV2, Pad, FusedBatchNorm');
}
