import { LoupeError } from '../../protocol/errors';
import type { ExecContext, IRGraph, IRNode } from './ir';
import { opNode } from './node';
import { checkActivationBudget, checkInputShape } from './shapeBudget';

interface GraphDraft extends Omit<IRGraph, 'logitsName' | 'head' | 'numClasses'> {
  outputName: string;
  file: string;
}

/**
 * Attributions target the class logit, so a final softmax is taken off: a softmax layer is skipped,
 * and a softmax activation inside the last layer is replaced by the identity.
 */
export function finishGraph(draft: GraphDraft): IRGraph {
  const { outputName, file, ...rest } = draft;
  const nodes = draft.nodes;
  checkInputShape(draft.inputShape, `the model's input [${draft.inputShape.join(', ')}]`, file);
  checkActivationBudget(nodes, file);
  const out = nodes.find((n) => n.name === outputName);
  if (!out) throw new Error(`internal: output node '${outputName}' not found`);
  if (out.outputShape.length !== 1) {
    throw new LoupeError('UNSUPPORTED_MODEL', `the model's output '${outputName}' has shape [${out.outputShape.join(', ')}]`, file,
      'Loupe explains classifiers whose output is [batch, classes]');
  }
  const numClasses = out.outputShape[0]!;
  let logitsName = outputName;
  let head: IRGraph['head'] = 'logits';
  const isSoftmaxNode = out.op ? out.op.op === 'activation' && out.op.activation.kind === 'softmax'
    : (out.className === 'Softmax' || out.className === 'Activation') && out.activation === 'softmax';
  if (isSoftmaxNode && out.inputs.length === 1) {
    logitsName = out.inputs[0]!;
    head = 'softmax';
  } else if (out.op && 'activation' in out.op && out.op.activation.kind === 'softmax') {
    // The same op without its softmax: declared, so every interpreter (TF.js, ONNX Runtime) sees the logits.
    head = 'softmax';
    const { apply: _apply, fusion: _fusion, activation: _activation, ...rest } = out;
    nodes[nodes.indexOf(out)] = opNode(rest, { ...out.op, activation: { kind: 'linear' } });
  } else if (out.activation === 'softmax') {
    head = 'softmax';
    const inner = out.apply;
    const stripped: IRNode = {
      ...out,
      apply: (inputs, ctx) => inner(inputs, withoutSoftmax(ctx)),
    };
    nodes[nodes.indexOf(out)] = stripped;
  }
  return { ...rest, nodes, logitsName, head, numClasses };
}

function withoutSoftmax(ctx: ExecContext): ExecContext {
  return {
    rule: ctx.rule,
    weights: ctx.weights,
    activation: (x, spec) => (spec.kind === 'softmax' ? x : ctx.activation(x, spec)),
  };
}
