import type * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../protocol/errors';
import { checkInputShape } from './shapeBudget';

/**
 * Checks a Layers model's topology (model.json's `modelTopology`, or the one the Keras loader writes)
 * before tfjs-layers sees it. tfjs-layers trusts it: a cycle or an inbound reference to a missing layer
 * makes it loop forever, a node index out of range throws from deep inside, and a layer's declared size
 * (units, filters) is allocated as weights before the manifest is compared. Every refusal names the layer.
 */
export function checkLayersTopology(topology: unknown, weightSpecs: tf.io.WeightsManifestEntry[], file: string): void {
  const model = modelConfig(topology, file);
  const layers = model.layers;
  const bad = (message: string, hint?: string) => new LoupeError('MODEL_INVALID', message, file, hint ?? 'export the model again');
  const nodesOf = new Map<string, number>();
  const inbound = new Map<string, string[]>();
  layers.forEach((raw, i) => {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
      throw bad(`layer ${i} of the topology needs "class_name" and "config"`);
    }
    const name = raw.name ?? raw.config.name;
    if (name === undefined && model.kind === 'sequential') return;
    if (typeof name !== 'string' || name.length === 0) throw bad(`layer ${i} (${raw.class_name}) has no name`);
    // tfjs-layers wires the graph by the outer name and names the layer by its config's: both must be there and agree.
    if (model.kind === 'functional' && typeof raw.name !== 'string') throw bad(`layer ${i} ('${name}') has no "name" beside its config`);
    if (raw.name !== undefined && raw.config.name !== undefined && raw.name !== raw.config.name) {
      throw bad(`layer '${String(raw.name)}' is named '${String(raw.config.name)}' in its config`);
    }
    if (nodesOf.has(name)) throw bad(`two layers are named '${name}'`, 'layer names must be unique: rename one and export again');
    const nodes = raw.inbound_nodes ?? [];
    if (!Array.isArray(nodes)) throw bad(`layer '${name}': "inbound_nodes" must be a list`);
    // An input layer has one node without inbound layers.
    nodesOf.set(name, Math.max(nodes.length, 1));
    inbound.set(name, []);
  });
  const totalWeights = weightSpecs.reduce((s, w) => s + (Array.isArray(w.shape) ? w.shape.reduce((a, b) => a * b, 1) : 0), 0);
  const specByName = new Map(weightSpecs.map((w) => [w.name, w]));
  for (const raw of layers as Array<Record<string, unknown> & { config: Record<string, unknown> }>) {
    const name = String(raw.name ?? raw.config.name ?? raw.class_name);
    checkLayerConfig(String(raw.class_name), raw.config, name, totalWeights, specByName, file);
    if (model.kind !== 'functional') continue;
    const nodes = (raw.inbound_nodes ?? []) as unknown[];
    // A layer other than an input that reads nothing makes tfjs-layers wait for an input forever.
    if (raw.class_name !== 'InputLayer' && nodes.length === 0) throw bad(`layer '${name}' has no inbound layers`);
    for (const node of nodes) {
      if (!Array.isArray(node)) throw bad(`layer '${name}': each inbound node must be a list of [layer, node index, tensor index]`);
      if (raw.class_name !== 'InputLayer' && node.length === 0) throw bad(`layer '${name}' has an inbound node that reads no layer`);
      for (const ref of node) inbound.get(name)!.push(checkRef(ref, `layer '${name}'`, nodesOf, file));
    }
  }
  if (model.kind === 'functional') {
    for (const key of ['input_layers', 'output_layers']) {
      const refs = model.config[key];
      if (!Array.isArray(refs) || refs.length === 0) throw bad(`the topology's "${key}" must list layers`);
      for (const ref of refs) checkRef(ref, `"${key}"`, nodesOf, file);
    }
    const cycle = findCycle(inbound);
    if (cycle) {
      throw bad(`the layers form a cycle: ${cycle.map((n) => `'${n}'`).join(' → ')}`, 'a model\'s layers must form a graph without cycles: export it again');
    }
  }
  const first = layers[0] as { class_name: string; config: Record<string, unknown> } | undefined;
  const inputLayer = model.kind === 'functional'
    ? (layers as Array<{ class_name: string; config: Record<string, unknown> }>).find((l) => l.class_name === 'InputLayer')
    : first;
  const shape = inputLayer ? inputLayer.config.batch_input_shape ?? inputLayer.config.batchInputShape : undefined;
  if (Array.isArray(shape)) {
    const dims = shape.slice(1);
    if (dims.every((d) => d !== null)) checkInputShape(dims, `the input layer's shape [${shape.map(String).join(', ')}]`, file);
  }
}

interface ModelConfig { kind: 'functional' | 'sequential'; layers: unknown[]; config: Record<string, unknown> }

function modelConfig(topology: unknown, file: string): ModelConfig {
  let top = topology;
  if (isObject(top) && isObject(top.model_config)) top = top.model_config;
  if (!isObject(top)) throw new LoupeError('MODEL_INVALID', '"modelTopology" must be an object', file);
  const cls = String(top.class_name ?? '');
  const config = top.config;
  if (cls === 'Sequential') {
    const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
    if (!Array.isArray(layers) || layers.length === 0) throw new LoupeError('MODEL_INVALID', 'the Sequential model lists no layers', file);
    return { kind: 'sequential', layers, config: isObject(config) ? config : {} };
  }
  if (!isObject(config) || !Array.isArray(config.layers) || config.layers.length === 0) {
    throw new LoupeError('MODEL_INVALID', `the ${cls || 'model'} topology lists no layers`, file, 'is this a TF.js Layers model?');
  }
  return { kind: 'functional', layers: config.layers, config };
}

/** A reference [layer name, node index, tensor index, kwargs?] to an existing layer's existing node. */
function checkRef(ref: unknown, where: string, nodesOf: Map<string, number>, file: string): string {
  const bad = (message: string) => new LoupeError('MODEL_INVALID', `${where}: ${message}`, file, 'export the model again');
  if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw bad(`an inbound reference must be [layer name, node index, tensor index], got ${short(ref)}`);
  const [target, node, tensor] = ref as [string, unknown, unknown];
  const count = nodesOf.get(target);
  if (count === undefined) throw bad(`refers to the layer '${target}', which the model does not have`);
  if (!Number.isInteger(node) || (node as number) < 0 || (node as number) >= count) {
    throw bad(`refers to node ${short(node)} of '${target}', which has ${count} node${count === 1 ? '' : 's'}`);
  }
  if (tensor !== undefined && (!Number.isInteger(tensor) || (tensor as number) < 0 || (tensor as number) > 64)) {
    throw bad(`refers to output ${short(tensor)} of '${target}'`);
  }
  return target;
}

/** A cycle in "layer → layers it reads", as the names along it, or undefined. */
export function findCycle(inbound: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  for (const start of inbound.keys()) {
    if (state.has(start)) continue;
    // Iterative depth-first search: a deep model must not overflow the stack.
    const stack: Array<{ name: string; next: number }> = [{ name: start, next: 0 }];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const deps = inbound.get(top.name) ?? [];
      if (top.next >= deps.length) {
        state.set(top.name, 2);
        stack.pop();
        continue;
      }
      const dep = deps[top.next++]!;
      if (state.get(dep) === 1) {
        const from = stack.findIndex((s) => s.name === dep);
        return [...stack.slice(from).map((s) => s.name).reverse(), dep];
      }
      if (!state.has(dep)) {
        state.set(dep, 1);
        stack.push({ name: dep, next: 0 });
      }
    }
  }
  return undefined;
}

const MAX_WINDOW = 4096;

/** Sizes a layer declares, checked before tfjs-layers allocates anything from them. */
function checkLayerConfig(className: string, config: Record<string, unknown>, name: string,
  totalWeights: number, specs: Map<string, tf.io.WeightsManifestEntry>, file: string): void {
  const bad = (message: string) => new LoupeError('MODEL_INVALID', `layer '${name}' (${className}) ${message}`, file, 'export the model again');
  const get = (snake: string, camel: string): unknown => config[snake] ?? config[camel];
  const positive = (value: unknown, key: string, max: number): void => {
    if (value === undefined || value === null) return;
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((v) => Number.isInteger(v) && v >= 1 && v <= max)) {
      throw bad(`has ${key} ${short(value)}: it must be ${Array.isArray(value) ? 'integers' : 'an integer'} from 1 to ${max}`);
    }
  };
  const nonNegative = (value: unknown, key: string): void => {
    if (value === undefined || value === null) return;
    const flat = Array.isArray(value) ? value.flat(2) : [value];
    if (!flat.every((v) => Number.isInteger(v) && v >= 0 && v <= MAX_WINDOW)) throw bad(`has ${key} ${short(value)}: it must be integers from 0 to ${MAX_WINDOW}`);
  };
  positive(get('kernel_size', 'kernelSize'), 'kernel_size', MAX_WINDOW);
  positive(get('strides', 'strides'), 'strides', MAX_WINDOW);
  positive(get('pool_size', 'poolSize'), 'pool_size', MAX_WINDOW);
  positive(get('dilation_rate', 'dilationRate'), 'dilation_rate', MAX_WINDOW);
  positive(get('depth_multiplier', 'depthMultiplier'), 'depth_multiplier', MAX_WINDOW);
  positive(get('groups', 'groups'), 'groups', MAX_WINDOW);
  if (className === 'ZeroPadding2D') nonNegative(get('padding', 'padding'), 'padding');
  if (className === 'Cropping2D') nonNegative(get('cropping', 'cropping'), 'cropping');
  if (className === 'Reshape') {
    const target = get('target_shape', 'targetShape');
    if (!Array.isArray(target) || !target.every((v) => Number.isInteger(v) && (v >= 1 || v === -1))) {
      throw bad(`has target_shape ${short(target)}: it must be positive integers (one may be -1)`);
    }
  }
  // Units and filters become weights tfjs-layers allocates when it builds the layer, before it reads the
  // manifest: a kernel holds at least that many numbers, so they cannot exceed what the manifest declares.
  for (const [key, roles] of [['units', ['kernel']], ['filters', ['kernel', 'depthwise_kernel', 'pointwise_kernel']]] as const) {
    const value = get(key, key);
    if (value === undefined || value === null) continue;
    positive(value, key, Number.MAX_SAFE_INTEGER);
    const n = value as number;
    const kernel = roles.filter((r) => r !== 'depthwise_kernel').map((r) => specs.get(`${name}/${r}`)).find((s) => s !== undefined);
    const declared = kernel?.shape[kernel.shape.length - 1];
    if (declared !== undefined && declared !== n) {
      throw new LoupeError('WEIGHTS_INVALID', `layer '${name}' (${className}) declares ${n} ${key} but its kernel in the weights manifest has shape [${kernel!.shape.join(', ')}]`,
        file, 'the weights do not match the layers in model.json: re-export the model');
    }
    if (n > Math.max(totalWeights, 1)) throw bad(`declares ${n} ${key}, more than the ${totalWeights} numbers the weights manifest holds`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
