import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../errors';
import type { ModelFiles } from '../io/modelFiles';
import { runGraph } from './executor';
import { activationByName } from './activations';
import { avgPool, conv2d, depthwiseConv2d, type ConvAttrs, type Padding } from './convOps';
import { finishGraph } from './head';
import type { ActivationSpec, ExecContext, FusionInfo, IRNode } from './ir';
import { batchNormAffine } from './batchNorm';
import { WeightStore } from './weightStore';

interface AttrValue {
  i?: string | number; f?: number; s?: string; b?: boolean; type?: string;
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size: string | number }[] };
}
interface GraphNodeDef { name: string; op: string; input?: string[]; attr?: Record<string, AttrValue> }

type Apply = (dyn: tf.Tensor[], consts: tf.Tensor[], ctx: ExecContext) => tf.Tensor;

const decode = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
const ints = (a: AttrValue | undefined) => (a?.list?.i ?? []).map(Number);

const FUSED_ACTIVATIONS: Record<string, string> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Sigmoid: 'sigmoid', Tanh: 'tanh', Selu: 'selu' };

/**
 * Interprets a tfjs-converter graph model as Loupe's graph, op by op, so that graph models get the same
 * backward rules as layers models. Ops outside this table are refused by name.
 */
export function graphModelToGraph(files: ModelFiles): ReturnType<typeof finishGraph> {
  const file = files.file;
  const topology = files.artifacts.modelTopology as { node?: GraphNodeDef[] };
  const defs = topology.node ?? [];
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
  const dims = (inputDef.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
  if (dims.length !== 4 || dims.slice(1).some((d) => !(d > 0))) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the graph's input '${inputDef.name}' has shape [${dims.join(', ')}]`, file,
      'Loupe needs a fixed-size image input [batch, height, width, channels]');
  }
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
    const constInputs = inputs.filter((i) => consts.has(i));
    dynamic.forEach((d) => consumed.add(d));
    if (def.op === 'Placeholder') {
      nodes.push(node(def, 'InputLayer', [], [], () => { throw new Error('internal: input evaluated'); }));
      continue;
    }
    const built = opFor(def, constInputs, file);
    const constNames = constInputs;
    const apply: IRNode['apply'] = (xs, ctx) => built.apply(xs, constNames.map((c) => ctx.weights.get(c)), ctx);
    nodes.push({
      ...node(def, built.className, dynamic, built.weightNames ?? constNames, apply),
      ...(built.activation ? { activation: built.activation } : {}),
      ...(built.fusion ? { fusion: built.fusion } : {}),
      isConv: built.isConv ?? false,
    });
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
  inferShapes(draft, file);
  for (const n of nodes) n.params = n.weightNames.reduce((s, w) => s + (tensors.get(w)?.size ?? 0), 0);
  return finishGraph({ ...draft, outputName: outputs[0]!.name, file });
}

function node(def: GraphNodeDef, className: string, inputs: string[], weightNames: string[], apply: IRNode['apply']): IRNode {
  return { name: def.name, className, inputs, outputShape: [], params: 0, isConv: false, weightNames, apply };
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

interface BuiltOp { className: string; apply: Apply; isConv?: boolean; activation?: string; weightNames?: string[]; fusion?: FusionInfo }

function opFor(def: GraphNodeDef, constInputs: string[], file: string): BuiltOp {
  const a = def.attr ?? {};
  const fused = (a.fused_ops?.list?.s ?? []).map(decode);
  const activationName = fused.find((f) => f !== 'BiasAdd');
  let spec: ActivationSpec = { kind: 'linear' };
  if (activationName === 'LeakyRelu') spec = { kind: 'leakyrelu', alpha: Number(a.leakyrelu_alpha?.f ?? 0.2) };
  else if (activationName) {
    const known = FUSED_ACTIVATIONS[activationName];
    if (!known) throw unsupported(def, file, `fused op '${activationName}'`);
    spec = activationByName(known, def.name, file);
  }
  const hasBias = fused.includes('BiasAdd');
  const bias = (y: tf.Tensor, c: tf.Tensor[], i: number) => (hasBias ? tf.add(y, c[i]!) : y);
  const convAttrs = (): ConvAttrs => {
    const s = ints(a.strides);
    const d = ints(a.dilations);
    const padding = decode(a.padding?.s);
    let pad: Padding;
    if (padding === 'EXPLICIT') {
      const p = ints(a.explicit_paddings);
      pad = [[0, 0], [p[2]!, p[3]!], [p[4]!, p[5]!], [0, 0]];
    } else pad = padding.toLowerCase() as 'same' | 'valid';
    if (a.data_format && decode(a.data_format.s) !== 'NHWC') throw unsupported(def, file, 'data format other than NHWC');
    return { strides: [s[1] ?? 1, s[2] ?? 1], dilations: [d[1] ?? 1, d[2] ?? 1], pad };
  };
  const act = spec.kind === 'linear' ? undefined : activationName!.toLowerCase();
  switch (def.op) {
    case 'Identity': case 'StopGradient': case 'Snapshot':
      return { className: 'Identity', apply: ([x]) => x! };
    case 'Conv2D': case '_FusedConv2D': {
      const attrs = convAttrs();
      const kernel = constInputs[0]!;
      return {
        className: 'Conv2D', isConv: true, ...(act ? { activation: act } : {}),
        fusion: { role: 'conv', depthwise: false, kernel, ...(hasBias ? { bias: constInputs[1]! } : {}), attrs, activation: spec },
        apply: ([x], c, ctx) => ctx.activation(bias(conv2d(x as tf.Tensor4D, ctx.weights, kernel, attrs), c, 1), spec),
      };
    }
    case 'DepthwiseConv2dNative': case 'FusedDepthwiseConv2dNative': {
      const attrs = convAttrs();
      const kernel = constInputs[0]!;
      return {
        className: 'DepthwiseConv2D', isConv: true, ...(act ? { activation: act } : {}),
        fusion: { role: 'conv', depthwise: true, kernel, ...(hasBias ? { bias: constInputs[1]! } : {}), attrs, activation: spec },
        apply: ([x], c, ctx) => ctx.activation(bias(depthwiseConv2d(x as tf.Tensor4D, ctx.weights, kernel, attrs), c, 1), spec),
      };
    }
    case 'MatMul': case '_FusedMatMul': {
      const ta = Boolean(a.transpose_a?.b);
      const tb = Boolean(a.transpose_b?.b);
      return {
        className: 'Dense', ...(act ? { activation: act } : {}),
        apply: ([x], c, ctx) => ctx.activation(bias(tf.matMul(x!, c[0]!, ta, tb), c, 1), spec),
      };
    }
    case 'BiasAdd': case 'Add': case 'AddV2':
      return { className: 'Add', apply: (xs, c) => tf.addN([...xs, ...c]) };
    case 'Sub':
      return { className: 'Subtract', apply: (xs, c) => tf.sub([...xs, ...c][0]!, [...xs, ...c][1]!) };
    case 'Mul':
      return { className: 'Multiply', apply: (xs, c) => [...xs, ...c].reduce((p, q) => tf.mul(p, q)) };
    case 'RealDiv':
      return { className: 'Divide', apply: (xs, c) => tf.div([...xs, ...c][0]!, [...xs, ...c][1]!) };
    case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'Selu': case 'Softplus': case 'Softmax': {
      const s = activationByName(def.op === 'Softmax' ? 'softmax' : def.op.toLowerCase(), def.name, file);
      return {
        className: def.op === 'Softmax' ? 'Softmax' : 'Activation', activation: def.op.toLowerCase(),
        fusion: { role: 'activation', activation: s }, apply: ([x], _c, ctx) => ctx.activation(x!, s),
      };
    }
    case 'LeakyRelu': {
      const s: ActivationSpec = { kind: 'leakyrelu', alpha: Number(a.alpha?.f ?? 0.2) };
      return {
        className: 'LeakyReLU', activation: 'leakyrelu', fusion: { role: 'activation', activation: s },
        apply: ([x], _c, ctx) => ctx.activation(x!, s),
      };
    }
    case 'MaxPool': case 'AvgPool': {
      const k = ints(a.ksize);
      const s = ints(a.strides);
      const pad = decode(a.padding?.s).toLowerCase() as 'same' | 'valid';
      const size: [number, number] = [k[1]!, k[2]!];
      const strides: [number, number] = [s[1]!, s[2]!];
      return def.op === 'MaxPool'
        ? { className: 'MaxPooling2D', apply: ([x]) => tf.maxPool(x as tf.Tensor4D, size, strides, pad) }
        : { className: 'AveragePooling2D', apply: ([x], _c, ctx) => avgPool(x as tf.Tensor4D, ctx.weights, def.name, size, strides, pad) };
    }
    case 'Mean': case 'Max': {
      const keep = Boolean(a.keep_dims?.b);
      const reduce = def.op === 'Mean' ? tf.mean : tf.max;
      return {
        className: def.op === 'Mean' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D', weightNames: [],
        apply: ([x], c) => reduce(x!, Array.from(c[0]!.dataSync()), keep),
      };
    }
    case 'Reshape':
      return { className: 'Reshape', weightNames: [], apply: ([x], c) => x!.reshape(Array.from(c[0]!.dataSync())) };
    case 'Squeeze': {
      const axes = ints(a.squeeze_dims);
      return { className: 'Reshape', apply: ([x]) => tf.squeeze(x!, axes.length ? axes : undefined) };
    }
    case 'ConcatV2':
      return { className: 'Concatenate', weightNames: [], apply: (xs, c) => tf.concat(xs, c[c.length - 1]!.dataSync()[0]) };
    case 'Pad':
      return {
        className: 'ZeroPadding2D', weightNames: [],
        apply: ([x], c) => tf.pad(x!, (tf.tidy(() => c[0]!.arraySync()) as number[][]).map((p) => [p[0]!, p[1]!] as [number, number])),
      };
    case 'FusedBatchNorm': case 'FusedBatchNormV3': {
      const [gamma, beta, mean, variance] = constInputs;
      const weights = { gamma: gamma!, beta: beta!, mean: mean!, variance: variance!, epsilon: Number(a.epsilon?.f ?? 1e-3) };
      const affine = (store: WeightStore) => batchNormAffine(store, def.name, weights);
      return {
        className: 'BatchNormalization', fusion: { role: 'affine', affine },
        apply: ([x], _c, ctx) => {
          const { scale, offset } = affine(ctx.weights);
          return tf.add(tf.mul(x!, scale), offset);
        },
      };
    }
    default:
      throw unsupported(def, file, `op '${def.op}'`);
  }
}

function unsupported(def: GraphNodeDef, file: string, what: string): LoupeError {
  return new LoupeError('UNSUPPORTED_MODEL', `graph node '${def.name}' uses ${what}, which Loupe does not support yet`, file,
    'supported: Conv2D, DepthwiseConv2dNative (plain or fused with BiasAdd and an activation), MatMul, BiasAdd/Add/Sub/Mul, ReLU family, pooling, Mean, Reshape, ConcatV2, Pad, FusedBatchNorm');
}
