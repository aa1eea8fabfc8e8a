/**
 * The Building Blocks of one image at one layer, end to end: validate, one forward pass for the activations
 * and predictions, then the semantic dictionary, spatial attribution (to the class, and to a later layer),
 * channel attribution (simple and path-integrated) and the NMF neuron groups with their attribution.
 * The worker and the CLI both call `runBlocks`.
 */
import type { BlocksOptions, BlocksResult } from '../../protocol/blocks';
import type { BackendName, Prediction } from '../../protocol/types';
import { LoupeError, throwIfAborted } from '../../protocol/errors';
import { ModelPasses } from '../featureVis/passes';
import { nodeIndex } from '../model/executor';
import type { LoadedModel } from '../model/loader';
import type { RgbaImage, RunHooks } from '../types';
import { channelAttribution, groupAttribution, scoreWeights, spatialToClass, spatialToLayer } from './attribution';
import { semanticDictionary } from './dictionary';
import { neuronGroups } from './groups';

export const BLOCKS_DEFAULTS = Object.freeze({ groups: 6, pathSteps: 100, dictionaryTop: 4 });

export interface BlocksContext {
  model: LoadedModel;
  backend: BackendName;
}

/** The image as the model sees it: input values (H·W·C) and the resized picture for overlays. */
export interface PreparedImage {
  input: Float32Array;
  image: RgbaImage;
  source: string;
}

function bad(message: string, file?: string, hint?: string): LoupeError {
  return new LoupeError('BAD_REQUEST', message, file, hint);
}

/** The layer's [H, W, C], or an error naming the layers with a spatial output. */
export function spatialShape(model: LoadedModel, layer: unknown, what = 'layer'): [number, number, number] {
  const info = model.description.layers.find((l) => l.name === layer);
  if (typeof layer !== 'string' || !info || info.outputShape.length !== 3 || info.className === 'InputLayer') {
    const spatial = model.description.layers.filter((l) => l.outputShape.length === 3 && l.className !== 'InputLayer').map((l) => l.name);
    throw bad(`${what} '${String(layer)}' is not a layer with a spatial (H×W×C) output in this model`, model.description.path,
      `choose one of: ${spatial.join(', ')}`);
  }
  return info.outputShape as [number, number, number];
}

/** Whether `later` is computed from `earlier` (walking the graph's inputs). */
export function dependsOn(model: LoadedModel, later: string, earlier: string): boolean {
  const index = nodeIndex(model.graph);
  const seen = new Set<string>();
  const stack = [later];
  while (stack.length) {
    const name = stack.pop()!;
    if (name === earlier) return true;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(index.get(name)?.inputs ?? []));
  }
  return false;
}

function integerIn(name: string, value: unknown, fallback: number, lo: number, hi: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || (value as number) < lo || (value as number) > hi) {
    throw bad(`${name} must be an integer in [${lo}, ${hi}] (got ${JSON.stringify(value)})`);
  }
  return value as number;
}

export interface ResolvedBlocks {
  layer: string;
  shape: [number, number, number];
  groups: number;
  pathSteps: number;
  dictionaryTop: number;
  toLayer?: string;
  toShape?: [number, number, number];
  notes: string[];
}

/** Validates options from untrusted callers against the model. */
export function resolveBlocksOptions(model: LoadedModel, options: BlocksOptions): ResolvedBlocks {
  if (typeof options !== 'object' || options === null) throw bad('options must be an object with a layer');
  const shape = spatialShape(model, options.layer);
  const [h, w, c] = shape;
  const notes: string[] = [];
  let groups = integerIn('groups', options.groups, BLOCKS_DEFAULTS.groups, 1, 64);
  if (groups > Math.min(h * w, c)) {
    notes.push(`${groups} neuron groups asked, but the layer has ${h * w} positions and ${c} channels: using ${Math.min(h * w, c)}`);
    groups = Math.min(h * w, c);
  }
  const resolved: ResolvedBlocks = {
    layer: options.layer, shape, groups, notes,
    pathSteps: integerIn('pathSteps', options.pathSteps, BLOCKS_DEFAULTS.pathSteps, 1, 10000),
    dictionaryTop: Math.min(c, integerIn('dictionaryTop', options.dictionaryTop, BLOCKS_DEFAULTS.dictionaryTop, 1, 64)),
  };
  if (options.toLayer !== undefined) {
    const toShape = spatialShape(model, options.toLayer, 'toLayer');
    if (options.toLayer === options.layer || !dependsOn(model, options.toLayer, options.layer)) {
      throw bad(`layer '${options.toLayer}' is not computed from '${options.layer}'`, model.description.path,
        'choose a later layer for the layer → layer attribution');
    }
    resolved.toLayer = options.toLayer;
    resolved.toShape = toShape;
  }
  return resolved;
}

function checkClass(value: unknown, numClasses: number, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= numClasses) {
    throw bad(`${name} ${JSON.stringify(value)} does not exist: the model has classes 0–${numClasses - 1}`);
  }
  return value as number;
}

function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function rgbaBase64(img: RgbaImage): string {
  return Buffer.from(Uint8Array.from(img.data, (v) => Math.max(0, Math.min(255, Math.round(v))))).toString('base64');
}

export async function runBlocks(ctx: BlocksContext, prepared: PreparedImage, options: BlocksOptions, hooks: RunHooks = {}): Promise<BlocksResult> {
  const { model } = ctx;
  const t0 = performance.now();
  const opts = resolveBlocksOptions(model, options);
  const [h, w, c] = opts.shape;
  const passes = new ModelPasses(model);
  const graph = model.graph;
  const [acts, logits] = await passes.activations([opts.layer, graph.logitsName], prepared.input, 1);
  const labels = model.description.labels;
  const probs = softmax(logits!);
  const predictions: Prediction[] = [...probs.keys()].sort((a, b) => probs[b]! - probs[a]!).slice(0, 5)
    .map((index) => ({ index, label: labels[index] ?? `class ${index}`, probability: probs[index]!, logit: logits![index]! }));
  const classIndex = options.classIndex === undefined ? predictions[0]!.index : checkClass(options.classIndex, graph.numClasses, 'class');
  const versusClass = options.versusClass === undefined ? undefined : checkClass(options.versusClass, graph.numClasses, 'versusClass');
  if (versusClass === classIndex) throw bad('versusClass must differ from the class it is compared with');
  const name = (i: number) => labels[i] ?? `class ${i}`;
  const scoreName = versusClass === undefined ? `logit(${name(classIndex)})` : `logit(${name(classIndex)}) − logit(${name(versusClass)})`;
  const weights = scoreWeights(graph.numClasses, classIndex, versusClass);
  const progress = (from: number, to: number) => (f: number, message: string) => hooks.onProgress?.(from + (to - from) * f, message);

  const dictionary = semanticDictionary(acts!, h, w, c, opts.dictionaryTop);
  hooks.onProgress?.(0.02, 'spatial attribution to the class');
  const toClass = await spatialToClass(passes, opts.layer, prepared.input, acts!, c, weights);
  throwIfAborted(hooks.signal);
  const share = opts.toLayer ? 0.5 : 0.85;
  const channel = await channelAttribution(passes, opts.layer, prepared.input, acts!, c, weights, toClass, opts.pathSteps,
    { ...hooks, onProgress: progress(0.05, 0.05 + share) });
  let toLayer: BlocksResult['spatial']['toLayer'];
  if (opts.toLayer && opts.toShape) {
    const maps = await spatialToLayer(passes, opts.layer, prepared.input, acts!, c, opts.toLayer, opts.toShape,
      { ...hooks, onProgress: progress(0.55, 0.9) });
    toLayer = { layer: opts.toLayer, shape: opts.toShape, maps };
  }
  throwIfAborted(hooks.signal);
  hooks.onProgress?.(0.92, `neuron groups (NMF, K = ${opts.groups})`);
  const groups = neuronGroups(acts!, h, w, c, opts.groups);
  const notes = [...opts.notes];
  if (groups.clipped) notes.push(`'${opts.layer}' has negative activations; the neuron groups factorise max(activation, 0) (NMF needs non-negative values)`);
  const completeness = Math.abs(channel.integratedSum - channel.scoreDifference) / Math.max(1e-6, Math.abs(channel.scoreDifference));
  if (completeness > 0.05) {
    notes.push(`path-integrated channel attribution sums to ${channel.integratedSum.toPrecision(4)}, the score moved by ${channel.scoreDifference.toPrecision(4)} along the path: more path steps would close the gap`);
  }
  hooks.onProgress?.(1, 'done');
  return {
    model: model.description.path,
    image: prepared.source,
    layer: opts.layer,
    layerShape: opts.shape,
    inputShape: graph.inputShape,
    predictions,
    classIndex,
    ...(versusClass !== undefined ? { versusClass } : {}),
    score: scoreName,
    start: dictionary.start,
    dictionary: dictionary.entries,
    maxActivation: dictionary.maxActivation,
    spatial: { toClass: Array.from(toClass.spatial), ...(toLayer ? { toLayer } : {}) },
    channel: {
      simple: Array.from(channel.simple), integrated: Array.from(channel.integrated), pathSteps: opts.pathSteps,
      integratedSum: channel.integratedSum, scoreDifference: channel.scoreDifference,
    },
    groups: {
      k: opts.groups, spatial: groups.spatial, channels: groups.channels,
      attribution: groupAttribution(groups.spatial, groups.channels, toClass.gradient, c),
      relativeError: groups.relativeError, iterations: groups.iterations,
    },
    picture: { width: prepared.image.width, height: prepared.image.height, rgba: rgbaBase64(prepared.image) },
    backend: ctx.backend,
    ms: performance.now() - t0,
    notes,
  };
}
