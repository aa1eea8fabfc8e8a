/**
 * A feature visualisation request end to end: validate, answer from the disk cache when the same weights,
 * objective, parameters and preprocessing were rendered before, else render, write the images and store
 * the entry atomically. The worker and the CLI both call `runFeatureVis`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FeatureVisOptions, FeatureVisSummary } from '../../protocol/featureVis';
import type { BackendName } from '../../protocol/types';
import { beginEntry, entryDir, entryKey, listEntries, readEntry } from '../../protocol/node/cacheEntries';
import { LoupeError } from '../../protocol/errors';
import type { LoadedModel } from '../model/loader';
import { compileObjective, layerGrid } from './objectives';
import { resolveFeatureVisParams } from './options';
import { ModelPasses } from './passes';
import { imageStripPng } from './png';
import { renderFeatureVis, type RenderHooks } from './render';

/** Bumped when the recipe or the summary's shape changes, so older entries are not reused. */
const FORMAT = 1;
const RESULT = 'result.json';

export interface FeatureVisContext {
  model: LoadedModel;
  backend: BackendName;
  /** The engine's cache root; feature visualisations live in its `featurevis` folder. */
  cacheRoot: string;
}

export function featureVisRoot(cacheRoot: string): string {
  return path.join(cacheRoot, 'featurevis');
}

function valid(v: unknown): boolean {
  const s = v as Partial<FeatureVisSummary> | null;
  return typeof s === 'object' && s !== null && Array.isArray(s.objective) && typeof s.image === 'string' && Array.isArray(s.values);
}

/** The layer's [H, W, C], or a clear error naming the layers that can be visualised. */
export function visualizableLayer(model: LoadedModel, layer: string): [number, number, number] {
  const info = model.description.layers.find((l) => l.name === layer);
  if (!info || info.className === 'InputLayer' || layer === model.graph.inputName
    || !(info.outputShape.length === 3 || info.outputShape.length === 1)) {
    const names = model.description.layers
      .filter((l) => l.className !== 'InputLayer' && (l.outputShape.length === 3 || l.outputShape.length === 1)).map((l) => l.name);
    throw new LoupeError('BAD_REQUEST', `'${layer}' is not a layer whose units can be visualised in this model`, model.description.path,
      `choose one of: ${names.join(', ')}`);
  }
  return layerGrid(info.outputShape, layer);
}

export async function runFeatureVis(ctx: FeatureVisContext, request: FeatureVisOptions, hooks: RenderHooks = {}): Promise<FeatureVisSummary> {
  const { model } = ctx;
  if (typeof request !== 'object' || request === null) throw new LoupeError('BAD_REQUEST', 'options must be an object with an objective');
  const [H, W, C] = model.graph.inputShape;
  const params = resolveFeatureVisParams(request.params, Math.min(H, W));
  const objectives = compileObjective(request.objective, params.batch, (layer) => visualizableLayer(model, layer));
  const preprocessing = model.description.preprocessing;
  const key = entryKey(FORMAT, { objective: request.objective, params, preprocessing, inputShape: model.graph.inputShape });
  const dir = entryDir(featureVisRoot(ctx.cacheRoot), model.fingerprint, key);
  if (request.refresh !== true) {
    const cached = readEntry<FeatureVisSummary>(dir, RESULT, valid);
    if (cached) return { ...cached, model: model.description.path };
  }
  const pending = beginEntry<FeatureVisSummary>(dir, RESULT);
  try {
    const result = await renderFeatureVis(new ModelPasses(model), objectives, params, preprocessing, hooks);
    const { size, batch } = params;
    const images = Array.from({ length: batch }, (_, b) => `image_${b}.png`);
    fs.writeFileSync(path.join(pending.tmp, 'image.png'), imageStripPng(result.images, batch, size, size, C));
    images.forEach((name, b) => fs.writeFileSync(path.join(pending.tmp, name), imageStripPng(result.images, batch, size, size, C, b)));
    const steps = Math.max(1, result.values.length);
    return pending.commit({
      model: model.description.path,
      objective: request.objective,
      params,
      imageShape: [size, size, C],
      inputShape: [H, W, C],
      values: result.values,
      ms: result.timing.total,
      msPerStep: { parameterisation: result.timing.parameterisation / steps, model: result.timing.model / steps, total: result.timing.total / steps },
      backend: model.passes.backend,
      notes: result.notes,
      image: 'image.png',
      images,
      dir,
      cached: false,
    });
  } catch (err) {
    pending.abort();
    throw err;
  }
}

/** Every stored visualisation of the model's current weights (no computation). */
export function cachedFeatureVis(ctx: FeatureVisContext): FeatureVisSummary[] {
  return listEntries<FeatureVisSummary>(featureVisRoot(ctx.cacheRoot), ctx.model.fingerprint, RESULT, valid)
    .map((s) => ({ ...s, model: ctx.model.description.path }));
}
