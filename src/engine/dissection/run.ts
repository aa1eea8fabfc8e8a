/**
 * A dissection request end to end: validate, answer from the disk cache when the same model
 * weights, layer, probe set and parameters were dissected before, else compute, draw the unit
 * strips and store the entry atomically.
 */
import type { BackendName, DissectionSummary, DissectOptions } from '../../protocol/types';
import { spatialLayer } from '../model/layers';
import type { DecodeOptions } from '../image/decode';
import type { LoadedModel } from '../model/loader';
import type { RunHooks } from '../types';
import { beginEntry, dissectionKey, entryDir, readEntry } from './cache';
import { computeDissection, labelUnits, summarizeCategories } from './dissect';
import { resolveDissectOptions } from './options';
import { openProbe } from './probe/open';
import { stripFileName, writeStrips } from './strips';

export interface DissectContext {
  model: LoadedModel;
  backend: BackendName;
  cacheRoot: string;
  decode: DecodeOptions;
}

export async function runDissection(ctx: DissectContext, request: DissectOptions, hooks: RunHooks = {}): Promise<DissectionSummary> {
  const { model } = ctx;
  const info = spatialLayer(model.description, request?.layer, 'dissect');
  request = { ...request, layer: info.name };
  const layerShape = info.outputShape;
  const options = resolveDissectOptions(request, layerShape[2]!);
  const probe = openProbe(options.probe, ctx.decode);
  const key = dissectionKey({
    layer: options.layer, probe: probe.identity, quantile: options.quantile, iouThreshold: options.iouThreshold,
    topImages: options.topImages, units: options.units ?? 'all',
    // The input transform changes every activation: a loupe.json or setting edit is another dissection.
    preprocessing: model.description.preprocessing,
  });
  const dir = entryDir(ctx.cacheRoot, model.fingerprint, key);
  if (!options.refresh) {
    const cached = readEntry(dir);
    if (cached) return cached;
  }
  const t0 = performance.now();
  const pending = beginEntry(dir);
  try {
    const computation = await computeDissection(model, probe, options, hooks, { spillDir: pending.tmp });
    await writeStrips(pending.tmp, probe, computation, hooks.signal, (f) => hooks.onProgress?.(0.9 + 0.1 * f, 'drawing unit images'));
    const units = labelUnits(computation, probe, options.iouThreshold, stripFileName);
    return pending.commit({
      model: model.description.path,
      layer: options.layer,
      layerShape,
      probe: { kind: probe.kind, name: probe.name, images: probe.length, concepts: probe.concepts.length - 1, categories: [...probe.categories] },
      params: { quantile: options.quantile, iouThreshold: options.iouThreshold, topImages: options.topImages },
      units,
      interpretable: units.filter((u) => u.interpretable).length,
      categories: summarizeCategories(units, probe.categories),
      backend: ctx.backend,
      ms: performance.now() - t0,
      dir,
      cached: false,
    });
  } catch (err) {
    pending.abort();
    throw err;
  }
}
