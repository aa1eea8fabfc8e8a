/**
 * What the model contributes to TCAV, computed once: every set image's activations at each layer (one
 * forward pass per image for all layers) and every class image's logit gradient at each layer (one
 * backward pass per class image and layer). Both are reduced at once to the layer's inner products
 * (gram.ts) and dropped, so memory holds one group of layers' activations at a time.
 */
import { LoupeError, throwIfAborted } from '../../protocol/errors';
import { toModelInput } from '../image/preprocess';
import { resizeImage } from '../image/resize';
import type { LoadedModel } from '../model/loader';
import type { RunHooks } from '../types';
import { layerProducts, type LayerProducts } from './gram';
import type { TcavPasses } from './passes';
import type { ImageRef } from './sets';

/** Largest model-input batch, in values (as dissection): bounds the memory of one pass. */
const BATCH_VALUES = 1.3e6;
const MAX_BATCH = 16;
/** Activations + gradients of the layers computed together, in bytes. */
export const TCAV_MEMORY_BYTES = 2 * 1024 ** 3;

export interface LayerSpec {
  name: string;
  dims: number;
}

export interface FeatureTimings {
  activations: number;
  gradients: number;
  products: number;
}

/** Layers grouped so that each group's activations and gradients fit TCAV_MEMORY_BYTES. */
export function layerGroups(layers: LayerSpec[], images: number, classImages: number, path?: string): LayerSpec[][] {
  const perDim = (images + classImages) * 4;
  const groups: LayerSpec[][] = [];
  let current: LayerSpec[] = [];
  let bytes = 0;
  for (const layer of layers) {
    const need = layer.dims * perDim;
    if (need > TCAV_MEMORY_BYTES) {
      throw new LoupeError('BAD_REQUEST', `layer '${layer.name}' has ${layer.dims.toLocaleString('en-US')} values per image: the activations of ${images} set images and the gradients of ${classImages} class images would take ${(need / 1024 ** 3).toFixed(1)} GB`,
        path, 'pick a later (smaller) layer, or fewer images per set, runs or class images');
    }
    if (bytes + need > TCAV_MEMORY_BYTES && current.length) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(layer);
    bytes += need;
  }
  if (current.length) groups.push(current);
  return groups;
}

function toInputs(images: Awaited<ReturnType<ImageRef['load']>>[], model: LoadedModel): Float32Array {
  const [h, w, c] = model.graph.inputShape;
  const out = new Float32Array(images.length * h * w * c);
  images.forEach((img, i) => out.set(toModelInput(resizeImage(img, w, h), model.description.preprocessing, c), i * h * w * c));
  return out;
}

const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The inner products of each layer, in `layers`' order. Progress goes from `span[0]` to `span[1]`;
 * cancellation is checked between batches.
 */
export async function computeLayerProducts(model: LoadedModel, passes: TcavPasses, setImages: ImageRef[], classImages: ImageRef[],
  classIndex: number, layers: LayerSpec[], hooks: RunHooks, timings: FeatureTimings, span: [number, number]): Promise<LayerProducts[]> {
  const [h, w, c] = model.graph.inputShape;
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_VALUES / (h * w * c))));
  const groups = layerGroups(layers, setImages.length, classImages.length, model.description.path);
  const n = setImages.length;
  const nClass = classImages.length;
  // Work units: a forward pass per set image and group, a backward pass per class image and layer (≈ 2 forwards).
  const total = groups.length * n + 2 * nClass * layers.length;
  let done = 0;
  const report = (message: string) => hooks.onProgress?.(span[0] + (span[1] - span[0]) * Math.min(1, done / total), message);

  const products = new Map<string, LayerProducts>();
  for (const group of groups) {
    const grads = group.map((l) => new Float32Array(nClass * l.dims));
    for (let first = 0; first < nClass; first += batch) {
      throwIfAborted(hooks.signal);
      const count = Math.min(batch, nClass - first);
      let t0 = performance.now();
      const inputs = toInputs(await Promise.all(classImages.slice(first, first + count).map((r) => r.load())), model);
      timings.activations += performance.now() - t0;
      for (const [g, layer] of group.entries()) {
        t0 = performance.now();
        grads[g]!.set(await passes.classGradients(inputs, count, classIndex, layer.name), first * layer.dims);
        timings.gradients += performance.now() - t0;
        done += 2 * count;
        report(`gradients at ${layer.name}: ${first + count}/${nClass} class images`);
        await yieldToEventLoop();
        throwIfAborted(hooks.signal);
      }
    }
    const acts = group.map((l) => new Float32Array(n * l.dims));
    for (let first = 0; first < n; first += batch) {
      throwIfAborted(hooks.signal);
      const count = Math.min(batch, n - first);
      const t0 = performance.now();
      const inputs = toInputs(await Promise.all(setImages.slice(first, first + count).map((r) => r.load())), model);
      const out = await passes.activations(inputs, count, group.map((l) => l.name));
      out.forEach((a, g) => acts[g]!.set(a, first * group[g]!.dims));
      timings.activations += performance.now() - t0;
      done += count;
      report(`activations: ${first + count}/${n} concept and random images`);
      await yieldToEventLoop();
    }
    for (const [g, layer] of group.entries()) {
      throwIfAborted(hooks.signal);
      const t0 = performance.now();
      products.set(layer.name, layerProducts(acts[g]!, n, grads[g]!, nClass, layer.dims));
      timings.products += performance.now() - t0;
      // Free this layer's activations before the next layer's products.
      acts[g] = new Float32Array(0);
      grads[g] = new Float32Array(0);
      await yieldToEventLoop();
    }
  }
  return layers.map((l) => products.get(l.name)!);
}
