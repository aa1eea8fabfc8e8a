/**
 * A TCAV request end to end, the one entry point of the worker and the CLI: validate, answer from the
 * disk cache when the same weights, sets, layers and parameters were run before, else draw the runs,
 * compute the layers' activations and class gradients once, fit the CAVs, score and test them, and
 * store the entry (result.json, tcav.csv, tcav.json, tcav.png) atomically.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendName } from '../../protocol/types';
import { tcavCsv, type TcavConceptResult, type TcavLayerResult, type TcavOptions, type TcavResult, type TcavRun } from '../../protocol/tcav';
import { LoupeError, throwIfAborted } from '../../protocol/errors';
import type { DecodeOptions } from '../image/decode';
import { nodeIndex } from '../model/executor';
import type { LoadedModel } from '../model/loader';
import { hashString, itemSeed } from '../random';
import type { RunHooks } from '../types';
import { beginTcavEntry, entryDir, readTcavEntry, tcavCacheRoot, tcavKey } from './cache';
import { fitCav } from './cav';
import { tcavChartPng } from './chart';
import { computeLayerProducts, type LayerSpec } from './features';
import { resolveTcavOptions, type ResolvedTcavOptions } from './options';
import { modelPasses, type TcavPasses } from './passes';
import { planRuns, type CavSplit } from './plan';
import { directionalDerivatives, tcavRun } from './score';
import { openClassImages, openConcepts, openRandom, type ImagePool } from './sets';
import { average, sampleStd, ttestInd } from './stats';

export interface TcavContext {
  model: LoadedModel;
  backend: BackendName;
  /** The engine's cache folder; TCAV entries live in its `tcav` sub-folder. */
  cacheDir: string;
  decode: DecodeOptions;
  /** The model calls (default: modelPasses(model)). */
  passes?: TcavPasses;
}

export const TCAV_FILES = ['tcav.csv', 'tcav.json', 'tcav.png'] as const;

/** The layers' sizes, checked: they exist, are not the input, and the class logit depends on them. Dense layers are allowed. */
export function tcavLayers(model: LoadedModel, names: string[]): LayerSpec[] {
  const graph = model.graph;
  const byName = nodeIndex(graph);
  const ancestors = new Set<string>();
  const stack = [graph.logitsName];
  while (stack.length) {
    const name = stack.pop()!;
    if (ancestors.has(name)) continue;
    ancestors.add(name);
    stack.push(...(byName.get(name)?.inputs ?? []));
  }
  const usable = model.description.layers.filter((l) => l.name !== graph.inputName && l.className !== 'InputLayer' && ancestors.has(l.name));
  return names.map((name) => {
    const info = usable.find((l) => l.name === name);
    if (!info) {
      const why = model.description.layers.some((l) => l.name === name) ? 'is the input, or the class logits do not depend on it' : 'is not a layer of this model';
      throw new LoupeError('BAD_REQUEST', `'${name}' ${why}`, model.description.path,
        `choose layers between the input and the logits, e.g. ${usable.filter((l) => l.outputShape.length === 3).slice(-3).map((l) => l.name).join(', ')}`);
    }
    return { name, dims: info.outputShape.reduce((a, b) => a * b, 1) };
  });
}

/** Display names, made unique ("stripes", "stripes (2)") when two folders share a name. */
function uniqueNames(pools: ImagePool[]): string[] {
  const seen = new Map<string, number>();
  return pools.map((p) => {
    const k = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, k);
    return k === 1 ? p.name : `${p.name} (${k})`;
  });
}

function summarize(runs: TcavRun[]) {
  return {
    mean: average(runs.map((r) => r.score)),
    std: sampleStd(runs.map((r) => r.score)),
    magnitude: average(runs.map((r) => r.magnitude)),
    cavAccuracy: average(runs.map((r) => r.cavAccuracy)),
  };
}

export async function runTcav(ctx: TcavContext, request: TcavOptions, hooks: RunHooks = {}): Promise<TcavResult> {
  const { model } = ctx;
  const description = model.description;
  const opts = resolveTcavOptions(request);
  if (opts.classIndex >= description.numClasses) {
    throw new LoupeError('BAD_REQUEST', `class ${opts.classIndex} does not exist: the model has classes 0–${description.numClasses - 1}`, description.path);
  }
  const layers = tcavLayers(model, opts.layers);
  const notes: string[] = [];
  const [h, w] = model.graph.inputShape;
  const gen = { size: Math.max(16, Math.min(1024, Math.max(h, w))), seed: opts.seed, count: opts.imagesPerSet, randomImages: opts.randomImages };
  const classPool = openClassImages(opts.classImages, ctx.decode, notes);
  const conceptPools = opts.concepts.flatMap((c) => openConcepts(c, ctx.decode, gen, notes));
  const random = openRandom(opts.random, ctx.decode, gen, notes);
  const names = uniqueNames(conceptPools);

  const key = tcavKey({
    classIndex: opts.classIndex, classImages: classPool.identity, concepts: conceptPools.map((p) => p.identity), random: random.identity,
    layers: opts.layers, runs: opts.runs, imagesPerSet: opts.imagesPerSet, cav: opts.cav, alpha: opts.alpha,
    minCavAccuracy: opts.minCavAccuracy, seed: opts.seed,
    // The input transform changes every activation: a loupe.json or setting edit is another run.
    preprocessing: description.preprocessing,
  });
  const dir = entryDir(tcavCacheRoot(ctx.cacheDir), model.fingerprint, key);
  if (!opts.refresh) {
    const cached = readTcavEntry(dir);
    if (cached) return { ...cached, model: description.path };
  }

  const t0 = performance.now();
  const plan = planRuns(random, conceptPools, opts.runs, opts.imagesPerSet, opts.seed, notes);
  if (layers.some((l) => description.layers.find((d) => d.name === l.name)!.outputShape.length !== 3)) {
    notes.push(`CAVs of ${layers.filter((l) => description.layers.find((d) => d.name === l.name)!.outputShape.length !== 3).map((l) => l.name).join(', ')} live in a non-spatial (dense) layer's output, flattened as every layer's is`);
  }
  const pending = beginTcavEntry(dir);
  try {
    const featureTimings = { activations: 0, gradients: 0, products: 0 };
    const products = await computeLayerProducts(model, ctx.passes ?? modelPasses(model), plan.images, classPool.images, opts.classIndex,
      layers, hooks, featureTimings, [0, 0.85]);
    const cavStart = performance.now();
    const layerResults: TcavLayerResult[] = [];
    for (const [l, layer] of layers.entries()) {
      throwIfAborted(hooks.signal);
      const fitRuns = (splits: CavSplit[], source: string): TcavRun[] => splits.map((split, run) => {
        const cav = fitCav(opts.cav, products[l]!.gram, plan.images.length, split, itemSeed(itemSeed(opts.seed, run), hashString(`${layer.name}\0${source}`)));
        return tcavRun(cav, directionalDerivatives(cav, products[l]!.cross, plan.images.length, classPool.images.length));
      });
      const randomRuns = fitRuns(plan.random, '\0random');
      const concepts = conceptPools.map((pool, c) => ({ pool, name: names[c]!, runs: fitRuns(plan.concepts[c]!, pool.source) }));
      layerResults.push({
        layer: layer.name,
        shape: description.layers.find((d) => d.name === layer.name)!.outputShape,
        dims: layer.dims,
        random: { ...summarize(randomRuns), runs: randomRuns },
        concepts: concepts.map((c) => ({ concept: c.name, source: c.pool.source, images: c.pool.images.length, runs: c.runs }) as TcavConceptResult),
      });
      hooks.onProgress?.(0.85 + 0.13 * ((l + 1) / layers.length), `CAVs at ${layer.name}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const statsStart = performance.now();
    const tests = layerResults.length * conceptPools.length;
    const correctedAlpha = opts.alpha / tests;
    for (const layer of layerResults) {
      const randomScores = layer.random.runs.map((r) => r.score);
      layer.concepts = layer.concepts.map((c) => {
        const { p } = ttestInd(c.runs.map((r) => r.score), randomScores);
        const stats = summarize(c.runs);
        return {
          ...c, ...stats,
          pValue: Number.isNaN(p) ? null : p,
          significant: !Number.isNaN(p) && p < correctedAlpha,
          lowAccuracy: !(stats.cavAccuracy >= opts.minCavAccuracy),
        };
      });
    }
    const end = performance.now();
    const result = pending.commit(writeFiles(pending.tmp, {
      model: description.path,
      classIndex: opts.classIndex,
      classLabel: description.labels[opts.classIndex] ?? `class ${opts.classIndex}`,
      classImages: { path: classPool.source, images: classPool.images.length },
      random: {
        source: random.source, asGiven: !random.pool,
        images: random.pool ? random.pool.images.length : random.sets!.reduce((s, p) => s + p.images.length, 0),
        sets: random.pool ? 2 * opts.runs : random.sets!.length,
      },
      layers: layerResults,
      params: paramsOf(opts, tests, correctedAlpha),
      notes,
      backend: ctx.backend,
      ms: end - t0,
      created: Date.now(),
      timings: {
        activations: featureTimings.activations, gradients: featureTimings.gradients,
        cavs: featureTimings.products + (statsStart - cavStart), statistics: end - statsStart,
      },
      key,
      dir,
      cached: false,
    }));
    hooks.onProgress?.(1, 'done');
    return result;
  } catch (err) {
    pending.abort();
    throw err;
  }
}

function paramsOf(opts: ResolvedTcavOptions, tests: number, correctedAlpha: number): TcavResult['params'] {
  return {
    runs: opts.runs, imagesPerSet: opts.imagesPerSet, cav: opts.cav, alpha: opts.alpha, tests, correctedAlpha,
    minCavAccuracy: opts.minCavAccuracy, seed: opts.seed, target: 'logit',
  };
}

/** tcav.csv, tcav.json (the result without where it is stored) and tcav.png, into the entry's folder. */
function writeFiles(folder: string, result: TcavResult): TcavResult {
  const { dir: _dir, cached: _cached, ...portable } = result;
  fs.writeFileSync(path.join(folder, 'tcav.csv'), tcavCsv(result));
  fs.writeFileSync(path.join(folder, 'tcav.json'), JSON.stringify(portable, null, 1) + '\n');
  fs.writeFileSync(path.join(folder, 'tcav.png'), tcavChartPng(result));
  return result;
}
