import { canFuseActivation, type ConvUnit } from './convOps';
import type { ActivationSpec, IRGraph, IRNode } from './ir';

export interface FusedChain {
  unit: ConvUnit;
  /** conv, then optionally affine and activation nodes, in order. */
  nodes: IRNode[];
}

interface Topology { uses: Map<string, number>; consumer: Map<string, IRNode> }
const topologyCache = new WeakMap<IRGraph, Topology>();

function topology(graph: IRGraph): Topology {
  let t = topologyCache.get(graph);
  if (!t) {
    t = { uses: new Map(), consumer: new Map() };
    for (const n of graph.nodes) {
      for (const i of n.inputs) {
        t.uses.set(i, (t.uses.get(i) ?? 0) + 1);
        t.consumer.set(i, n);
      }
    }
    topologyCache.set(graph, t);
  }
  return t;
}

/**
 * Chains conv → [batch norm] → [ReLU-family] that can run as one fused unit (convUnit). A chain never
 * swallows a node the caller reads (a Grad-CAM layer, say) or feeds, nor one with other consumers.
 */
export function fusedChains(graph: IRGraph, outputs: Set<string>, feeds: Set<string>): Map<string, FusedChain> {
  const { uses, consumer } = topology(graph);
  const chains = new Map<string, FusedChain>();
  const extend = (n: IRNode): IRNode | undefined => {
    if (outputs.has(n.name) || uses.get(n.name) !== 1) return undefined;
    const c = consumer.get(n.name);
    return c && c.inputs.length === 1 && !feeds.has(c.name) ? c : undefined;
  };
  for (const head of graph.nodes) {
    const f = head.fusion;
    if (f?.role !== 'conv' || feeds.has(head.name) || Array.isArray(f.attrs.pad) || !canFuseActivation(f.activation)) continue;
    const nodes = [head];
    let activation: ActivationSpec = f.activation;
    let affine: ConvUnit['affine'];
    if (activation.kind === 'linear') {
      let c = extend(head);
      if (c?.fusion?.role === 'affine') {
        affine = c.fusion.affine;
        nodes.push(c);
        c = extend(c);
      }
      if (c?.fusion?.role === 'activation' && canFuseActivation(c.fusion.activation)) {
        activation = c.fusion.activation;
        nodes.push(c);
      }
    }
    chains.set(head.name, {
      nodes,
      unit: {
        key: nodes.map((n) => n.name).join('>'), depthwise: f.depthwise, kernel: f.kernel,
        ...(f.bias ? { bias: f.bias } : {}), attrs: f.attrs, ...(affine ? { affine } : {}), activation,
      },
    });
  }
  return chains;
}
