import * as tf from '@tensorflow/tfjs';
import { applyActivation } from './activations';
import { convUnitBackward, convUnitForward } from './convOps';
import { fusedChains } from './fusion';
import type { ExecContext, IRGraph, IRNode, ReluRule } from './ir';
import type { WeightStore } from './weightStore';

export interface RunOptions {
  outputs: string[];
  rule?: ReluRule;
  /** Another weight store (the randomisation check); default: the model's own. */
  weights?: WeightStore;
  /** Node values supplied by the caller: evaluation starts from them. */
  feeds?: Map<string, tf.Tensor>;
}

/** One evaluation step: a node, or a fused conv chain standing for several nodes. */
interface Step {
  output: string;
  inputs: string[];
  forward(xs: tf.Tensor[]): tf.Tensor;
  /** d score / d inputs from d score / d output. */
  backward(dy: tf.Tensor, xs: tf.Tensor[], y: tf.Tensor): tf.Tensor[];
}

/** Evaluates only the nodes the requested outputs depend on. Call inside tf.tidy. */
export function runGraph(graph: IRGraph, input: tf.Tensor, options: RunOptions): tf.Tensor[] {
  const { values } = forward(graph, input, options);
  return options.outputs.map((n) => values.get(n)!);
}

/**
 * Reverse-mode gradient of Σ seed ⊙ outputs[0] with respect to the `wrt` node values, written over
 * Loupe's own graph rather than tfjs's tape: each fused conv unit has a hand-written backward, other
 * nodes use a local vector-Jacobian product of their forward. Why: tfjs's tape and custom-gradient
 * bookkeeping cost more than the backward kernels themselves on MobileNetV2-sized models.
 */
export function gradients(graph: IRGraph, input: tf.Tensor, options: RunOptions & {
  wrt: string;
  seed: (output: tf.Tensor) => tf.Tensor;
}): { values: Map<string, tf.Tensor>; gradient: tf.Tensor } {
  const { values, steps } = forward(graph, input, { ...options, outputs: [...options.outputs, options.wrt] });
  const grads = new Map<string, tf.Tensor>([[options.outputs[0]!, options.seed(values.get(options.outputs[0]!)!)]]);
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (step.output === options.wrt) break;
    const dy = grads.get(step.output);
    if (!dy) continue;
    const xs = step.inputs.map((n) => values.get(n)!);
    const dxs = step.backward(dy, xs, values.get(step.output)!);
    step.inputs.forEach((name, k) => {
      const previous = grads.get(name);
      grads.set(name, previous ? tf.add(previous, dxs[k]!) : dxs[k]!);
    });
  }
  const gradient = grads.get(options.wrt);
  if (!gradient) throw new Error(`internal: '${options.outputs[0]}' does not depend on '${options.wrt}'`);
  return { values, gradient };
}

function forward(graph: IRGraph, input: tf.Tensor, options: RunOptions): { values: Map<string, tf.Tensor>; steps: Step[] } {
  const feeds = options.feeds ?? new Map<string, tf.Tensor>();
  const rule = options.rule ?? 'standard';
  const ctx: ExecContext = {
    rule,
    weights: options.weights ?? graph.weights,
    activation: (x, spec) => applyActivation(x, spec, rule),
  };
  const steps = plan(graph, options.outputs, feeds, ctx);
  const values = new Map<string, tf.Tensor>(feeds);
  if (!values.has(graph.inputName)) values.set(graph.inputName, input);
  for (const step of steps) values.set(step.output, step.forward(step.inputs.map((n) => values.get(n)!)));
  return { values, steps };
}

function plan(graph: IRGraph, outputs: string[], feeds: Map<string, tf.Tensor>, ctx: ExecContext): Step[] {
  const byName = nodeIndex(graph);
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    if (!byName.has(name)) throw new Error(`internal: unknown node '${name}'`);
    needed.add(name);
    if (!feeds.has(name)) stack.push(...byName.get(name)!.inputs);
  }
  const chains = fusedChains(graph, new Set(outputs), new Set(feeds.keys()));
  const interior = new Set<string>();
  for (const chain of chains.values()) chain.nodes.slice(1).forEach((n) => interior.add(n.name));
  const steps: Step[] = [];
  for (const node of graph.nodes) {
    if (!needed.has(node.name) || feeds.has(node.name) || node.name === graph.inputName) continue;
    const chain = chains.get(node.name);
    if (chain) {
      const { unit } = chain;
      steps.push({
        output: chain.nodes.at(-1)!.name,
        inputs: [node.inputs[0]!],
        forward: ([x]) => convUnitForward(x as tf.Tensor4D, ctx.weights, unit),
        backward: (dy, [x], y) => [convUnitBackward(dy as tf.Tensor4D, x!.shape, y, ctx.weights, unit, ctx.rule)],
      });
    } else if (!interior.has(node.name)) {
      steps.push(nodeStep(node, ctx));
    }
  }
  return steps;
}

function nodeStep(node: IRNode, ctx: ExecContext): Step {
  return {
    output: node.name,
    inputs: node.inputs,
    forward: (xs) => node.apply(xs, ctx),
    backward: (dy, xs, y) => {
      // Identity layers (dropout at inference) return their input: no op to differentiate.
      if (xs.length === 1 && y === xs[0]) return [dy];
      // Sums pass the gradient through unchanged when nothing was broadcast.
      const isAdd = node.op ? node.op.op === 'elementwise' && node.op.fn === 'add' && node.op.operands.every((o) => 'input' in o)
        : node.className === 'Add';
      if (isAdd && xs.every((x) => x.shape.join() === dy.shape.join())) return xs.map(() => dy);
      // A tensor given twice (x · x) must be two leaves: tf.grads would return the total derivative for
      // each, and the caller adds one per input.
      const leaves = xs.map((x, k) => (xs.indexOf(x) === k ? x : tf.clone(x)));
      return tf.grads((...args: tf.Tensor[]) => node.apply(args, ctx))(leaves, dy);
    },
  };
}

const indexCache = new WeakMap<IRGraph, Map<string, IRNode>>();
export function nodeIndex(graph: IRGraph): Map<string, IRNode> {
  let index = indexCache.get(graph);
  if (!index) {
    index = new Map(graph.nodes.map((n) => [n.name, n]));
    indexCache.set(graph, index);
  }
  return index;
}
