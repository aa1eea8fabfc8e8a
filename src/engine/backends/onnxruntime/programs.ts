import type { TargetKind } from '../../../protocol/types';
import type { IRGraph, ReluRule } from '../../model/ir';
import type { WeightStore } from '../../model/weightStore';
import { emitBackward } from './backward';
import { ForwardEmitter } from './forward';
import { GraphBuilder } from './graphBuilder';

/**
 * The kinds of graph requests need, each compiled once per model and weights and kept as a session.
 * ONNX Runtime runs every node of a session whatever is fetched, so each program computes only what its
 * requests use; inputs that change per request (images, targets, sample weights, seeds) are graph inputs.
 */
export type Program =
  /** Inputs x [N, H, W, C]; outputs out0… = the values of `outputs` (NHWC). */
  | { kind: 'forward'; outputs: string[] }
  /**
   * The gradient of a class score (logit, or probability) for a batch. Inputs x, onehot [N, K] (the class),
   * w [N] (sample weights). Without taps, outputs `logits`, `gradient` (∂score/∂x, NHWC), `sum` = Σ_b w_b g_b and
   * `sumSq` = Σ_b w_b g_b². With taps, outputs `logits` and for each tap layer `activation{i}` and `tapGradient{i}`
   * (∂score/∂layer), and the backward pass stops at the taps (Grad-CAM at ResNet18's layer4 then costs little more
   * than a forward pass, instead of a whole input gradient).
   */
  | { kind: 'class'; rule: ReluRule; target: TargetKind; taps: string[] }
  /**
   * ∂(Σ seed ⊙ value of `of`)/∂ value of `wrt`. Inputs x, seed (NHWC like `of`); outputs `gradient`, `activation` of a
   * layer `wrt`, and with `value` the value of `of` (feature visualisation's objective reads it).
   */
  | { kind: 'seeded'; of: string; wrt: string; rule: ReluRule; value?: boolean };

export function programKey(p: Program): string {
  return JSON.stringify(p);
}

/** The ONNX model of a program over a model's graph and weights. Throws NotCompilable for ops the graph cannot express. */
export function compileProgram(graph: IRGraph, store: WeightStore, program: Program,
  prepared?: Map<string, { data: Float32Array; shape: number[] }>): Uint8Array {
  const b = new GraphBuilder();
  const [h, w, c] = graph.inputShape;
  const x = b.input('x', ['N', h, w, c]);
  const f = new ForwardEmitter(b, graph, store, prepared);
  const nhwc = (tensor: string, rank: number) => (rank === 4 ? b.op('Transpose', [tensor], { perm: [0, 2, 3, 1] }) : tensor);
  const value = (name: string) => nhwc(f.values.get(name)!.out, f.values.get(name)!.rank);
  switch (program.kind) {
    case 'forward':
      f.emit(x, program.outputs);
      program.outputs.forEach((o, i) => b.output(`out${i}`, value(o)));
      break;
    case 'class': {
      f.emit(x, [graph.logitsName, ...program.taps]);
      const onehot = b.input('onehot', ['N', graph.numClasses]);
      const logits = f.values.get(graph.logitsName)!.out;
      b.output('logits', logits);
      let seed = onehot;
      if (program.target === 'probability') {
        // ∂p_c/∂logits = p_c (onehot − p)
        const p = b.op('Softmax', [logits], { axis: -1 });
        const pc = b.op('ReduceSum', [b.op('Mul', [p, onehot]), b.int64([1])], { keepdims: 1 });
        seed = b.op('Mul', [pc, b.op('Sub', [onehot, p])]);
      }
      const toInput = program.taps.length === 0;
      const { gradient, taps } = emitBackward(f, graph.logitsName, seed, toInput ? graph.inputName : undefined, program.rule, program.taps);
      if (toInput) {
        const g = nhwc(gradient!, 4);
        b.output('gradient', g);
        const weighted = b.op('Mul', [g, b.op('Reshape', [b.input('w', ['N']), b.int64([-1, 1, 1, 1])])]);
        b.output('sum', b.op('ReduceSum', [weighted, b.int64([0])], { keepdims: 0 }));
        b.output('sumSq', b.op('ReduceSum', [b.op('Mul', [weighted, g]), b.int64([0])], { keepdims: 0 }));
      }
      program.taps.forEach((t, i) => {
        b.output(`activation${i}`, value(t));
        b.output(`tapGradient${i}`, nhwc(taps.get(t)!, f.values.get(t)!.rank));
      });
      break;
    }
    case 'seeded': {
      f.emit(x, [program.of, program.wrt]);
      const shape = f.node(program.of).outputShape;
      const input = b.input('seed', ['N', ...shape]);
      const seed = shape.length === 3 ? b.op('Transpose', [input], { perm: [0, 3, 1, 2] }) : input;
      const { gradient } = emitBackward(f, program.of, seed, program.wrt, program.rule);
      b.output('gradient', nhwc(gradient!, f.values.get(program.wrt)!.rank));
      if (program.wrt !== graph.inputName) b.output('activation', value(program.wrt));
      if (program.value) b.output('value', value(program.of));
      break;
    }
  }
  return b.encode();
}
