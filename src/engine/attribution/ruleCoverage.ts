import { activationOf } from '../model/ops';
import type { IRGraph } from '../model/ir';
import type { ReluRule } from '../model/ir';

/** Activations a guided/deconvnet rule replaces; every other nonlinearity keeps its ordinary derivative. */
const RULED = new Set(['relu', 'relu6', 'leakyrelu', 'clippedrelu']);
const LINEAR = new Set(['linear']);

/**
 * What a ReLU rule leaves untouched in this model, said in the map's notes: guided backprop and deconvnet
 * on a network of swish or tanh units silently become (mostly) the plain gradient otherwise.
 */
export function ruleCoverageNotes(graph: IRGraph, rule: Exclude<ReluRule, 'standard'>, method: string): string[] {
  const byKind = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (!node.op || node.name === graph.inputName) continue;
    const kind = activationOf(node.op).kind;
    // The softmax after the logits is not part of the backward pass Loupe runs.
    if (RULED.has(kind) || LINEAR.has(kind) || (kind === 'softmax' && graph.head === 'softmax')) continue;
    byKind.set(kind, [...(byKind.get(kind) ?? []), node.name]);
  }
  const notes: string[] = [];
  if (byKind.size > 0) {
    const listed = [...byKind].map(([kind, names]) => `${kind} (${list(names)})`).join(', ');
    notes.push(`${method}'s ${rule} rule applies to ReLU-family units only: ${listed} passed their ordinary derivative`);
  }
  if (graph.opaque.length > 0) {
    notes.push(`${list(graph.opaque)} ran through tfjs-layers as a whole: any ReLU inside ${graph.opaque.length === 1 ? 'it' : 'them'} passed the ordinary gradient, not the ${rule} rule`);
  }
  return notes;
}

function list(names: string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
