/**
 * PyTorch module paths from the node names torch.onnx.export writes. A node's name is its scope, one
 * segment per module call, then the op: `/layer1/layer1.0/conv1/Conv`. A segment is a child's attribute
 * name (`conv1`), or for a container's children the container's segment and the index (`layer1.0`,
 * `downsample.0`); the second call of a module in the same scope gets a numbered segment (`relu_1`), as does
 * a repeated op (`Add_1`).
 */

export interface ScopedName {
  /** Module path (`layer1.0.relu`), '' for ops of the top-level module, undefined for names without scopes. */
  module?: string;
  /** 1 for the first call of the module, 2 for the second… */
  call: number;
  /** The op part of the name (`Conv`, `Add_1`). */
  op: string;
  /** The scope segments as written, to group nodes of one module call. */
  scope: string;
}

/** Splits a torch-style node name; names from other exporters (no leading '/') have no module. */
export function parseScopedName(name: string): ScopedName {
  if (!name.startsWith('/')) return { call: 1, op: name, scope: '' };
  const parts = name.split('/').slice(1);
  const op = parts.pop() ?? '';
  // A container's child is written `<container's own segment>.<index>`: `/layer2/layer2.0/downsample/downsample.0/Conv`
  // is module layer2.0.downsample.0.
  let module = '';
  let previous = '';
  for (const segment of parts) {
    if (previous !== '' && segment.startsWith(`${previous}.`)) module += segment.slice(previous.length);
    else module = module ? `${module}.${segment}` : segment;
    previous = segment;
  }
  return { module, call: 1, op, scope: parts.join('/') };
}

/**
 * Module paths with call numbers: a scope `…/relu_1` is the second call of `…/relu` when a scope `…/relu`
 * with the same op type exists (a module genuinely named `relu_1` has no such twin).
 */
export function resolveCalls(names: ScopedName[], opTypes: string[]): ScopedName[] {
  const scopesWithOp = new Set(names.map((n, i) => `${n.scope}\u0000${opTypes[i]}`));
  return names.map((n, i) => {
    if (n.module === undefined) return n;
    const m = /^(.*)\/([^/]*?)_(\d+)$/.exec(`/${n.scope}`);
    if (!m) return n;
    const base = `${m[1]}/${m[2]}`.replace(/^\//, '');
    if (!scopesWithOp.has(`${base}\u0000${opTypes[i]}`)) return n;
    const call = Number(m[3]) + 1;
    const module = n.module.replace(/_\d+$/, '');
    return { ...n, module, call, scope: n.scope };
  });
}

/**
 * Loupe's name for each node: the module path for the (last) node of a leaf module's call (`layer1.0.conv1`),
 * with `#k` for its k-th call (`layer1.0.relu#2`); `<module>/<op>` for ops of a container's own forward
 * (`layer1.0/Add`) and a leaf call's other nodes; the node name itself for other exporters. Unique.
 */
export function loupeNames(nodeNames: string[], opTypes: string[], isDynamic: boolean[]): { name: string; sourceName?: string }[] {
  const scoped = resolveCalls(nodeNames.map(parseScopedName), opTypes);
  // How many dynamic nodes each module call holds (by scope): a call of one node is named by the module alone.
  const lastInScope = new Map<string, number>();
  scoped.forEach((s, i) => {
    if (isDynamic[i] && s.module !== undefined) lastInScope.set(s.scope, i);
  });
  const used = new Set<string>();
  return scoped.map((s, i) => {
    let name: string;
    let sourceName: string | undefined;
    if (s.module === undefined) {
      name = s.op;
    } else if (s.module !== '' && lastInScope.get(s.scope) === i && isLeafScope(s, scoped)) {
      // A leaf module's output is its last node: named by the module (nn.Linear as MatMul + Add, say).
      name = s.call > 1 ? `${s.module}#${s.call}` : s.module;
      sourceName = s.module;
    } else {
      name = s.module ? `${s.module}${s.call > 1 ? `#${s.call}` : ''}/${s.op}` : s.op;
    }
    let unique = name;
    for (let k = 2; used.has(unique); k++) unique = `${name}~${k}`;
    used.add(unique);
    return sourceName !== undefined ? { name: unique, sourceName } : { name: unique };
  });
}

/**
 * Container modules (`layer4`, `features.18`) whose output is one node's: among the nodes inside the
 * container's scope, the one whose value is read outside it (or is the graph's output), when there is one.
 * `owner[i]` is node i's Loupe name when it is a layer (undefined for folded constants); `readers[i]` the
 * indices of the nodes reading its output (−1: the graph output).
 */
export function containerOutputs(nodeNames: string[], owner: (string | undefined)[], readers: number[][]): Record<string, string> {
  const members = new Map<string, Set<number>>();
  nodeNames.forEach((name, i) => {
    if (owner[i] === undefined || !name.startsWith('/')) return;
    const segments = name.split('/').slice(1, -1);
    for (let j = 1; j < segments.length; j++) {
      const prefix = segments.slice(0, j);
      // A repeated call of a container has a numbered segment: its calls are not one module output.
      if (/_\d+$/.test(prefix.at(-1)!)) break;
      const module = parseScopedName(`/${prefix.join('/')}/op`).module!;
      let set = members.get(module);
      if (!set) members.set(module, (set = new Set()));
      set.add(i);
    }
  });
  const out: Record<string, string> = {};
  for (const [module, set] of members) {
    const exits = [...set].filter((i) => readers[i]!.some((r) => r === -1 || !set.has(r)));
    const names = new Set(exits.map((i) => owner[i]!));
    if (names.size === 1) out[module] = [...names][0]!;
  }
  return out;
}

/** A scope no other node's scope lies under: a leaf module (Conv2d, ReLU), not a container running sub-modules. */
function isLeafScope(s: ScopedName, all: ScopedName[]): boolean {
  const prefix = `${s.scope}/`;
  return !all.some((o) => o.scope.startsWith(prefix));
}
