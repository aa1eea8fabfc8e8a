import type * as tf from '@tensorflow/tfjs';
import type { LayerInfo, ModelFormat } from '../../protocol/types';
import type { ConvAttrs } from './convOps';
import type { OpSpec } from './ops';
import type { WeightStore } from './weightStore';

/**
 * How ReLU-family units pass gradients backwards (guided backprop and deconvnet replace the rule).
 * 'redirected' (Lucid's redirected_relu_grad, feature visualisation's first steps): for each batch element
 * whose ReLU/ReLU6 passes no gradient at all, pass the gradient wherever it pushes the input back into
 * the unit's live range (the seed being the gradient of a quantity to maximise).
 */
export type ReluRule = 'standard' | 'guided' | 'deconvnet' | 'redirected';

/** The nonlinearities the executor knows; ReLU-family ones obey the ReluRule. */
export type ActivationSpec =
  | { kind: 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'elu' | 'selu' | 'softplus' | 'softsign'
      | 'hardSwish' | 'swish' | 'mish' | 'gelu' | 'softmax' }
  /** max(0, min(1, αx + β)): Keras 2 uses α 0.2, PyTorch (and ONNX's HardSwish) 1/6; β 0.5. */
  | { kind: 'hardSigmoid'; alpha: number; beta: number }
  | { kind: 'leakyrelu'; alpha: number }
  | { kind: 'clippedrelu'; max: number }
  /** min(max(x, min), max) with min ≠ 0 (ONNX Clip, PyTorch Hardtanh); no guided/deconvnet rule. */
  | { kind: 'clip'; min: number; max: number };

export interface ExecContext {
  readonly rule: ReluRule;
  readonly weights: WeightStore;
  activation(x: tf.Tensor, spec: ActivationSpec): tf.Tensor;
}

/**
 * One node of Loupe's model graph: a Keras layer, or a graph-model op.
 * Loupe runs models through this graph instead of tfjs-layers / tfjs-converter so that it controls
 * every backward rule: input gradients without filter gradients, ReLU rules, taps at any layer.
 */
export interface IRNode {
  name: string;
  className: string;
  inputs: string[];
  /** The layer's name in the user's code, when it differs from `name` (LayerInfo.sourceName). */
  sourceName?: string;
  /** Output shape without the batch dimension. */
  outputShape: number[];
  params: number;
  activation?: string;
  isConv: boolean;
  /** Names (in the WeightStore) of this node's weights, for the model-randomisation check. */
  weightNames: string[];
  /** What the node computes (ops.ts); absent for layers Loupe runs through a library (opaque). */
  op?: OpSpec;
  apply(inputs: tf.Tensor[], ctx: ExecContext): tf.Tensor;
  /** What the executor may fuse: conv (+ per-channel affine) (+ ReLU-family activation) into one unit. */
  fusion?: FusionInfo;
}

export type FusionInfo =
  | { role: 'conv'; depthwise: boolean; kernel: string; bias?: string; attrs: ConvAttrs; activation: ActivationSpec }
  | { role: 'affine'; affine: (weights: WeightStore) => { scale: tf.Tensor; offset: tf.Tensor } }
  | { role: 'activation'; activation: ActivationSpec };

export interface IRGraph {
  format: ModelFormat;
  name: string;
  inputName: string;
  inputShape: [number, number, number];
  /** Topologically ordered; nodes[0] is the input. */
  nodes: IRNode[];
  /** Node whose output is the class scores before any final softmax. */
  logitsName: string;
  head: 'logits' | 'softmax';
  numClasses: number;
  weights: WeightStore;
  /** Layers Loupe ran through a library implementation (no custom backward rules inside them). */
  opaque: string[];
  /** Other names of nodes: a PyTorch container module (`layer4`) → the node that computes its output. */
  aliases?: Record<string, string>;
}

export function toLayerInfo(node: IRNode): LayerInfo {
  return {
    name: node.name,
    className: node.className,
    outputShape: node.outputShape,
    params: node.params,
    ...(node.activation ? { activation: node.activation } : {}),
    isConv: node.isConv,
    inputs: node.inputs,
    ...(node.sourceName !== undefined ? { sourceName: node.sourceName } : {}),
  };
}
