import { LoupeError } from '../../protocol/errors';
import { findCycle } from './layersTopology';

interface Def { name: string; op: string; input?: string[] }

/**
 * A converter graph's nodes checked and in dependency order: names unique, every input an existing node,
 * no cycle. The converter usually writes them in order, but nothing in the file promises it, and Loupe's
 * executor evaluates nodes in list order. Each refusal names the node.
 */
export function orderGraphDefs<D extends Def>(defs: unknown, file: string): D[] {
  const bad = (message: string) => new LoupeError('MODEL_INVALID', message, file, 'export the model again with tensorflowjs_converter');
  if (!Array.isArray(defs)) throw bad('"modelTopology.node" must be a list of nodes');
  const byName = new Map<string, D>();
  defs.forEach((d, i) => {
    if (typeof d !== 'object' || d === null || typeof d.name !== 'string' || d.name === '' || typeof d.op !== 'string') {
      throw bad(`graph node ${i} needs a "name" and an "op"`);
    }
    if (d.input !== undefined && !(Array.isArray(d.input) && d.input.every((x: unknown) => typeof x === 'string'))) {
      throw bad(`graph node '${d.name}': "input" must be a list of node names`);
    }
    if (byName.has(d.name)) throw bad(`two graph nodes are named '${d.name}'`);
    byName.set(d.name, d as D);
  });
  const deps = new Map<string, string[]>();
  for (const d of byName.values()) {
    const names = (d.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''));
    for (const n of names) if (!byName.has(n)) throw bad(`graph node '${d.name}' reads '${n}', which the graph does not have`);
    deps.set(d.name, names);
  }
  const cycle = findCycle(deps);
  if (cycle) throw bad(`the graph has a cycle: ${cycle.map((n) => `'${n}'`).join(' → ')}`);
  // Depth-first post-order from each node in file order: the file's order where it is already valid.
  const done = new Set<string>();
  const ordered: D[] = [];
  for (const start of byName.keys()) {
    const stack: Array<{ name: string; next: number }> = [{ name: start, next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (done.has(top.name)) { stack.pop(); continue; }
      const ds = deps.get(top.name)!;
      if (top.next < ds.length) {
        const dep = ds[top.next++]!;
        if (!done.has(dep)) stack.push({ name: dep, next: 0 });
        continue;
      }
      done.add(top.name);
      ordered.push(byName.get(top.name)!);
      stack.pop();
    }
  }
  return ordered;
}
