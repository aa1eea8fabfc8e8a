// A Keras model config (Keras 3 config.json, or the `model_config` of a legacy .h5 from Keras 2 or 3)
// as one flat functional graph: Sequential models become chains, nested models are inlined, and each
// layer keeps where Keras 3 stores its variables. Reading only: no class named in the file is run.
import { kerasSnakeCase } from '../../../../protocol/kerasNaming';
import { LoupeError } from '../../../../protocol/errors';

export type Json = Record<string, unknown>;
/** A tensor: [layer name, call index, output index]. */
export type Ref = [string, number, number];

export interface KerasLayer {
  name: string;
  /** The class as the file names it (Keras 3 or Keras 2 spelling). */
  className: string;
  config: Json;
  /** The tensors this layer is applied to (its only call). */
  inbound: Ref[];
  /** Keras 3: the group of its variables in model.weights.h5, e.g. `layers/sequential/layers/conv2d`. */
  varsPath: string;
  /** The file's own description of the layer (module / registered_name), for refusing custom classes. */
  module?: string;
  registeredName?: string;
}

export interface KerasGraph {
  name: string;
  layers: KerasLayer[];
  inputs: Ref[];
  outputs: Ref[];
}

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

export function isModelClass(className: string): boolean {
  return MODEL_CLASSES.has(className);
}

/** Flattens the model object `{class_name, config}` of a Keras config. */
export function parseKerasGraph(model: unknown, file: string): KerasGraph {
  const obj = asObject(model, 'the model config', file);
  const sub = parseModel(obj, '', file);
  const config = asObject(obj.config ?? {}, 'the model config', file);
  return { name: typeof config.name === 'string' ? config.name : 'model', ...sub };
}

interface SubGraph { layers: KerasLayer[]; inputs: Ref[]; outputs: Ref[] }

function parseModel(obj: Json, path: string, file: string): SubGraph {
  const className = String(obj.class_name);
  if (className === 'Sequential') return parseSequential(obj.config, path, file);
  if (className === 'Functional' || className === 'Model') return parseFunctional(obj.config, path, file);
  throw new LoupeError('UNSUPPORTED_MODEL', `the model is a '${className}', not a Sequential or functional Keras model`, file,
    'subclassed models (class MyModel(keras.Model)) carry no layer graph in their config: build the model with Sequential or the functional API');
}

/** Keras 3 names each saved object in a container by its class, snake_case, with a per-class counter. */
function varsNamer(path: string): (className: string) => string {
  const used = new Map<string, number>();
  return (className) => {
    const base = kerasSnakeCase(className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return `${path ? `${path}/` : ''}layers/${n === undefined ? base : `${base}_${n + 1}`}`;
  };
}

function parseSequential(configRaw: unknown, path: string, file: string): SubGraph {
  // Keras ≤ 2.2 wrote the layer list itself as the config.
  const config: Json = Array.isArray(configRaw) ? { layers: configRaw } : asObject(configRaw, 'the Sequential config', file);
  const entries = asArray(config.layers, 'the Sequential model\'s layers', file);
  const namer = varsNamer(path);
  const layers: KerasLayer[] = [];
  const inputs: Ref[] = [];
  let previous: Ref | undefined;
  for (const raw of entries) {
    const entry = asObject(raw, 'a layer entry', file);
    const className = String(entry.class_name);
    const lc = asObject(entry.config ?? {}, `the config of a ${className} layer`, file);
    const name = layerName(entry, lc, file);
    const varsPath = namer(className);
    if (className === 'InputLayer') {
      layers.push(layerOf(entry, name, lc, [], varsPath));
      previous = [name, 0, 0];
      inputs.push(previous);
      continue;
    }
    if (!previous) {
      const shape = lc.batch_input_shape ?? lc.batch_shape ?? config.build_input_shape ?? (entry.build_config as Json | undefined)?.input_shape;
      if (!Array.isArray(shape)) {
        throw new LoupeError('UNSUPPORTED_MODEL', 'the Sequential model does not say its input shape', file,
          'give the model an input (keras.Input(shape=...) as its first layer) and save it after building it');
      }
      const inputName = `${name}_input`;
      layers.push({ name: inputName, className: 'InputLayer', config: { name: inputName, batch_input_shape: shape, dtype: 'float32' }, inbound: [], varsPath: '' });
      previous = [inputName, 0, 0];
      inputs.push(previous);
    }
    if (isModelClass(className)) {
      previous = inline(parseModel(entry, varsPath, file), [previous], layers, name, file)[0]!;
    } else {
      layers.push(layerOf(entry, name, lc, [previous], varsPath));
      previous = [name, 0, 0];
    }
  }
  if (!previous) throw new LoupeError('MODEL_INVALID', 'the Sequential model has no layers', file);
  return { layers, inputs, outputs: [previous] };
}

function parseFunctional(configRaw: unknown, path: string, file: string): SubGraph {
  const config = asObject(configRaw, 'the functional model config', file);
  const entries = asArray(config.layers, 'the model\'s layers', file);
  const namer = varsNamer(path);
  const layers: KerasLayer[] = [];
  // Outputs of inlined nested models, by the nested model's name.
  const aliases = new Map<string, Ref[]>();
  const resolve = (ref: Ref): Ref => {
    const outs = aliases.get(ref[0]);
    if (!outs) return ref;
    const out = outs[ref[2]];
    if (!out) throw new LoupeError('MODEL_INVALID', `a layer uses output ${ref[2]} of '${ref[0]}', which has ${outs.length}`, file);
    return out;
  };
  for (const raw of entries) {
    const entry = asObject(raw, 'a layer entry', file);
    const className = String(entry.class_name);
    const lc = asObject(entry.config ?? {}, `the config of a ${className} layer`, file);
    const name = layerName(entry, lc, file);
    const varsPath = namer(className);
    const nodes = Array.isArray(entry.inbound_nodes) ? entry.inbound_nodes : [];
    if (nodes.length > 1) {
      throw new LoupeError('UNSUPPORTED_MODEL', `layer '${name}' is applied ${nodes.length} times (a shared layer)`, file,
        'Loupe needs each layer to be used once; unshare it in the model definition');
    }
    const inbound = nodes.length ? nodeRefs(nodes[0], name, file).map(resolve) : [];
    if (isModelClass(className)) {
      aliases.set(name, inline(parseModel(entry, varsPath, file), inbound, layers, name, file));
    } else {
      layers.push(layerOf(entry, name, lc, inbound, varsPath));
    }
  }
  return {
    layers,
    inputs: refList(config.input_layers, 'input_layers', file).map(resolve),
    outputs: refList(config.output_layers, 'output_layers', file).map(resolve),
  };
}

/** Adds a nested model's layers, fed by `inbound` instead of its own inputs; returns its outputs. */
function inline(sub: SubGraph, inbound: Ref[], layers: KerasLayer[], name: string, file: string): Ref[] {
  if (inbound.length !== sub.inputs.length) {
    throw new LoupeError('UNSUPPORTED_MODEL', `nested model '${name}' takes ${sub.inputs.length} inputs but is given ${inbound.length}`, file);
  }
  const feed = new Map(sub.inputs.map((ref, i) => [ref[0], inbound[i]!] as const));
  const taken = new Set(layers.map((l) => l.name));
  for (const layer of sub.layers) {
    if (feed.has(layer.name)) continue;
    if (taken.has(layer.name)) {
      throw new LoupeError('UNSUPPORTED_MODEL', `layer name '${layer.name}' appears both in nested model '${name}' and outside it`, file,
        'give the layers unique names');
    }
    layers.push({ ...layer, inbound: layer.inbound.map((ref) => feed.get(ref[0]) ?? ref) });
  }
  return sub.outputs.map((ref) => feed.get(ref[0]) ?? ref);
}

function layerOf(entry: Json, name: string, config: Json, inbound: Ref[], varsPath: string): KerasLayer {
  return {
    name, className: String(entry.class_name), config, inbound, varsPath,
    ...(typeof entry.module === 'string' ? { module: entry.module } : {}),
    ...(typeof entry.registered_name === 'string' ? { registeredName: entry.registered_name } : {}),
  };
}

function layerName(entry: Json, config: Json, file: string): string {
  const name = typeof entry.name === 'string' ? entry.name : config.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new LoupeError('MODEL_INVALID', `a ${String(entry.class_name)} layer has no name`, file);
  }
  return name;
}

/**
 * The tensors of one call. Keras 2: `[[name, node, tensor, kwargs], ...]`; Keras 3:
 * `{args: [...], kwargs: {...}}` with `__keras_tensor__` objects anywhere inside.
 */
function nodeRefs(node: unknown, layer: string, file: string): Ref[] {
  const refs: Ref[] = [];
  if (Array.isArray(node)) {
    for (const item of node) {
      if (Array.isArray(item) && typeof item[0] === 'string') refs.push(ref(item, layer, file));
    }
    return refs;
  }
  const obj = asObject(node, `the inbound node of '${layer}'`, file);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (!v || typeof v !== 'object') return;
    const o = v as Json;
    if (o.class_name === '__keras_tensor__') {
      refs.push(ref((o.config as Json | undefined)?.keras_history, layer, file));
      return;
    }
    Object.values(o).forEach(walk);
  };
  walk(obj.args);
  if (refs.length === 0) walk(obj.kwargs);
  return refs;
}

function ref(raw: unknown, layer: string, file: string): Ref {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') {
    throw new LoupeError('MODEL_INVALID', `layer '${layer}' has an inbound tensor without a source layer`, file);
  }
  const nodeIndex = Number(raw[1] ?? 0);
  if (nodeIndex !== 0) {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${layer}' uses the output of call ${nodeIndex} of '${raw[0]}' (a shared layer)`, file,
      'Loupe needs each layer to be used once; unshare it in the model definition');
  }
  return [raw[0], 0, Number(raw[2] ?? 0)];
}

/** `input_layers` / `output_layers`: a list of refs, or (Keras 3, one tensor) a single ref. */
function refList(raw: unknown, what: string, file: string): Ref[] {
  const list = asArray(raw, `the model's ${what}`, file);
  if (typeof list[0] === 'string') return [ref(list, what, file)];
  return list.map((r) => ref(r, what, file));
}

export function asObject(v: unknown, what: string, file: string): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new LoupeError('MODEL_INVALID', `${what} is not an object`, file);
  return v as Json;
}

function asArray(v: unknown, what: string, file: string): unknown[] {
  if (!Array.isArray(v)) throw new LoupeError('MODEL_INVALID', `${what} is not a list`, file);
  return v;
}
