import type * as tf from '@tensorflow/tfjs';
import { applyActivation } from './activations';
import { convUnit } from './convOps';
import { fusedChains } from './fusion';
import type { ExecContext, IRGraph, IRNode, ReluRule } from './ir';
import type { WeightStore } from './weightStore';

export interface RunOptions {
  outputs: string[];
  rule?: ReluRule;
  /** Another weight store (the randomisation check); default: the model's own. */
  weights?: WeightStore;
  /** Node values supplied by the caller: evaluation starts from them (gradients w.r.t. a layer). */
  feeds?: Map<string, tf.Tensor>;
}

/** Evaluates only the nodes the requested outputs depend on. Call inside tf.tidy / tf.grad. */
export function runGraph(graph: IRGraph, input: tf.Tensor, options: RunOptions): tf.Tensor[] {
  const feeds = options.feeds ?? new Map<string, tf.Tensor>();
  const rule = options.rule ?? 'standard';
  const ctx: ExecContext = {
    rule,
    weights: options.weights ?? graph.weights,
    activation: (x, spec) => applyActivation(x, spec, rule),
  };
  const byName = nodeIndex(graph);
  const needed = new Set<string>();
  const stack = [...options.outputs];
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    if (!byName.has(name)) throw new Error(`internal: unknown node '${name}'`);
    needed.add(name);
    if (!feeds.has(name)) stack.push(...byName.get(name)!.inputs);
  }
  const chains = fusedChains(graph, new Set(options.outputs), new Set(feeds.keys()));
  const interior = new Set<string>();
  for (const chain of chains.values()) chain.nodes.slice(0, -1).forEach((n) => interior.add(n.name));
  const values = new Map<string, tf.Tensor>(feeds);
  if (!values.has(graph.inputName)) values.set(graph.inputName, input);
  for (const node of graph.nodes) {
    if (!needed.has(node.name) || values.has(node.name)) continue;
    const chain = chains.get(node.name);
    if (chain) {
      const x = values.get(node.inputs[0]!) as tf.Tensor4D;
      values.set(chain.nodes.at(-1)!.name, convUnit(x, ctx.weights, chain.unit, rule));
      continue;
    }
    if (interior.has(node.name)) continue;
    values.set(node.name, node.apply(node.inputs.map((n) => values.get(n)!), ctx));
  }
  return options.outputs.map((n) => values.get(n)!);
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
