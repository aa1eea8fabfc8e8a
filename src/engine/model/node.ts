import type { IRNode } from './ir';
import { activationOf, applyOp, fusionOf, weightsOf, type OpSpec } from './ops';

const CONV_OPS = new Set(['conv', 'separableConv']);

/** An IR node that computes a declared op: its TF.js evaluation, fusion and weights all follow from the op. */
export function opNode(base: Pick<IRNode, 'name' | 'className' | 'inputs' | 'outputShape' | 'params'> & {
  sourceName?: string;
  activation?: string;
  weightNames?: string[];
}, op: OpSpec): IRNode {
  const fusion = fusionOf(op, base.name);
  const act = activationOf(op);
  const activation = base.activation ?? (act.kind === 'linear' ? undefined : act.kind);
  return {
    ...base,
    ...(activation ? { activation } : {}),
    op,
    isConv: CONV_OPS.has(op.op),
    weightNames: base.weightNames ?? weightsOf(op),
    apply: (xs, ctx) => applyOp(op, xs, ctx, base.name),
    ...(fusion ? { fusion } : {}),
  };
}
