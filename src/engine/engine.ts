import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type {
  BackendName, BackendPreference, DissectionSummary, DissectOptions, ExplainOptions, MapSummary, MethodId, ModelDescription, Prediction,
  Preprocessing,
} from '../protocol/types';
import type { ActivationGridOptions, ActivationGridResult, BlocksOptions, BlocksResult } from '../protocol/blocks';
import type { FeatureVisOptions, FeatureVisSummary } from '../protocol/featureVis';
import { runActivationGrid } from './blocks/grid';
import { runBlocks, type PreparedImage } from './blocks/run';
import { METHODS } from './attribution/registry';
import type { AttributionContext, MethodOutput } from './attribution/types';
import { initBackend } from './backend';
import { LanePool } from './lanes/pool';
import { loadOnnxRuntime, onnxRuntimeError, type OrtModule } from './backends/onnxruntime/ortPasses';
import { defaultCacheRoot, listEntries } from './dissection/cache';
import { runDissection } from './dissection/run';
import { listTcavEntries, tcavCacheRoot } from './tcav/cache';
import { runTcav } from './tcav/run';
import type { TcavOptions, TcavResult } from '../protocol/tcav';
import type { RenderHooks } from './featureVis/render';
import { cachedFeatureVis, runFeatureVis } from './featureVis/run';
import { LoupeError, throwIfAborted } from '../protocol/errors';
import { readImageFile } from './image/decode';
import { toModelInput } from './image/preprocess';
import { smallImageNote } from './image/inputNotes';
import { nearUniformReason } from './output/uniform';
import { overridePreprocessing } from './image/sidecar';
import { resizeImage } from './image/resize';
import { spatialLayer } from './model/layers';
import { loadModel, type LoadedModel } from './model/loader';
import { reduceForDisplay } from './output/display';
import { resolveParams } from './params';
import { randomizeTopLayers, sanityNote, spearman } from './sanity';
import type { AttributionOutput, ExplainResult, ForwardResult, RgbaImage, RunHooks } from './types';

export interface EngineOptions {
  backend?: BackendPreference;
  /** Largest decoded image accepted, in pixels. */
  maxImagePixels?: number;
  /** Where dissections are stored (default: env LOUPE_CACHE_DIR, else ~/.cache/loupe/dissections). */
  cacheDir?: string;
  /** Threads SmoothGrad and IG run on, this one included (default: env LOUPE_LANES, else one per core; 1 = this thread alone). */
  lanes?: number;
  /** Models kept loaded besides the one in use (least recently used out); default 1. */
  keepModels?: number;
  /** Where the engine says what it reused or dropped (the worker's log). */
  log?: (line: string) => void;
}

export const DEFAULT_MAX_IMAGE_PIXELS = 40e6;
export const SANITY_LAYERS = 2;

interface CachedModel { mtimeMs: number; loaded: Promise<LoadedModel> }
interface Prepared { image: RgbaImage; input: tf.Tensor4D; source: string; notes: string[] }
/** The last image's forward pass: another class or method of the same image starts from it. */
interface ForwardMemo { key: string; modelPath: string; image: RgbaImage; input: Float32Array; source: string; all: Prediction[]; notes: string[] }
export const DEFAULT_KEEP_MODELS = 1;

/** The engine the worker and the CLI share: models cached by path + mtime, one analysis at a time. */
export class Engine {
  private readonly models = new Map<string, CachedModel>();
  private memo: ForwardMemo | undefined;

  private constructor(
    readonly backend: BackendName, private readonly maxImagePixels: number, readonly cacheDir: string, readonly lanes: LanePool,
    private readonly onnxRuntime: OrtModule | undefined,
    private readonly keepModels: number,
    private readonly log: (line: string) => void,
  ) {}

  static async create(options: EngineOptions = {}): Promise<Engine> {
    if (options.lanes !== undefined && !(Number.isInteger(options.lanes) && options.lanes >= 1)) {
      throw new LoupeError('BAD_REQUEST', `lanes must be a positive integer (got ${options.lanes})`);
    }
    if (options.keepModels !== undefined && !(Number.isInteger(options.keepModels) && options.keepModels >= 0)) {
      throw new LoupeError('BAD_REQUEST', `keepModels must be a whole number ≥ 0 (got ${options.keepModels})`);
    }
    const preference = options.backend ?? 'auto';
    const tfjs = await initBackend(preference);
    const onnxRuntime = preference === 'auto' || preference === 'onnxruntime' ? loadOnnxRuntime() : undefined;
    if (preference === 'onnxruntime' && !onnxRuntime) {
      throw new LoupeError('BACKEND', `ONNX Runtime is not available: ${onnxRuntimeError()}`, undefined,
        'reinstall the extension for this platform, or choose the backend auto or wasm');
    }
    if (preference === 'auto' && !onnxRuntime) console.warn(`loupe: ONNX Runtime is not available (${onnxRuntimeError()}); running on TF.js (${tfjs})`);
    const backend: BackendName = onnxRuntime ? 'onnxruntime' : tfjs;
    // Lanes add wasm threads to SmoothGrad and IG; ONNX Runtime's kernels use every core themselves.
    const lanes = new LanePool(LanePool.threadsFor(backend, options.lanes), tfjs, (line) => console.warn(`loupe: ${line}`));
    return new Engine(backend, options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS, options.cacheDir ?? defaultCacheRoot(), lanes, onnxRuntime,
      options.keepModels ?? DEFAULT_KEEP_MODELS, options.log ?? (() => undefined));
  }

  /** Network dissection of one layer (from the disk cache when the same dissection was run on these weights). */
  async dissect(modelPath: string, options: DissectOptions, hooks: RunHooks = {}): Promise<DissectionSummary> {
    const model = await this.modelFor(modelPath, options?.preprocessing);
    return runDissection({ model, backend: model.passes.backend, cacheRoot: this.cacheDir, decode: { maxPixels: this.maxImagePixels } }, options, hooks);
  }

  // ── feature visualisation (src/engine/featureVis) ──
  /** Lucid's feature visualisation of an objective (from the disk cache when rendered before on these weights). */
  async visualize(modelPath: string, options: FeatureVisOptions, hooks: RenderHooks = {}): Promise<FeatureVisSummary> {
    const model = await this.modelFor(modelPath, options?.preprocessing);
    return runFeatureVis({ model, backend: this.backend, cacheRoot: this.cacheDir }, options, hooks);
  }

  /** Every stored feature visualisation of the model's current weights. */
  async cachedFeatureVis(modelPath: string): Promise<FeatureVisSummary[]> {
    const model = await this.model(modelPath);
    return cachedFeatureVis({ model, backend: this.backend, cacheRoot: this.cacheDir });
  }

  /** The Building Blocks (dictionary, attributions, neuron groups) of one image at one layer. */
  async blocks(modelPath: string, image: string | RgbaImage, options: BlocksOptions, hooks: RunHooks = {}): Promise<BlocksResult> {
    const model = await this.modelFor(modelPath, options?.preprocessing);
    return runBlocks({ model, backend: this.backend }, await this.prepareArray(model, image), options, hooks);
  }

  /** The activation grid of one image at one layer: one feature visualisation per position. */
  async activationGrid(modelPath: string, image: string | RgbaImage, options: ActivationGridOptions, hooks: RunHooks = {}): Promise<ActivationGridResult> {
    const model = await this.modelFor(modelPath, options?.preprocessing);
    return runActivationGrid({ model, backend: this.backend }, await this.prepareArray(model, image), options, hooks);
  }

  private async prepareArray(model: LoadedModel, image: string | RgbaImage): Promise<PreparedImage> {
    const prepared = await this.prepare(model, image);
    const input = Float32Array.from(prepared.input.dataSync() as Float32Array);
    prepared.input.dispose();
    return { input, image: prepared.image, source: prepared.source };
  }
  // ── end feature visualisation ──

  /** Every stored dissection of the model's current weights. */
  async cachedDissections(modelPath: string): Promise<DissectionSummary[]> {
    const model = await this.model(modelPath);
    return listEntries(this.cacheDir, model.fingerprint).map((s) => ({ ...s, model: model.description.path }));
  }

  // ---- TCAV (src/engine/tcav) ----

  /** TCAV of a class at some layers (from the disk cache when the same run was made on these weights). */
  async tcav(modelPath: string, options: TcavOptions, hooks: RunHooks = {}): Promise<TcavResult> {
    const model = await this.modelFor(modelPath, options?.preprocessing);
    return runTcav({ model, backend: this.backend, cacheDir: this.cacheDir, decode: { maxPixels: this.maxImagePixels } }, options, hooks);
  }

  /** Every stored TCAV result of the model's current weights. */
  async cachedTcav(modelPath: string): Promise<TcavResult[]> {
    const model = await this.model(modelPath);
    return listTcavEntries(tcavCacheRoot(this.cacheDir), model.fingerprint).map((r) => ({ ...r, model: model.description.path }));
  }

  // ---- end TCAV ----

  async describe(modelPath: string): Promise<ModelDescription> {
    return (await this.model(modelPath)).description;
  }

  async predict(modelPath: string, image: string | RgbaImage, topK = 5, preprocessing?: Partial<Preprocessing>): Promise<Prediction[]> {
    return (await this.forward(modelPath, image, topK, preprocessing)).predictions;
  }

  /** The image as the model sees it and its top-K predictions: one forward pass, kept for the requests on the same image that follow. */
  async forward(modelPath: string, image: string | RgbaImage, topK = 5, preprocessing?: Partial<Preprocessing>): Promise<ForwardResult> {
    const model = await this.modelFor(modelPath, preprocessing);
    const memo = await this.forwardOf(model, image);
    const d = model.description;
    return {
      predictions: memo.all.slice(0, Math.max(1, topK)), image: memo.image, source: memo.source, backend: model.passes.backend,
      inputShape: d.inputShape, preprocessing: d.preprocessing, model: d.path,
      ...(memo.notes.length ? { inputNotes: memo.notes } : {}),
    };
  }

  /**
   * The prepared input and every class's score of `image`, from the last forward pass when it was the same
   * image file (same bytes on disk), weights and preprocessing; else computed and kept.
   */
  private async forwardOf(model: LoadedModel, image: string | RgbaImage): Promise<ForwardMemo> {
    let key: string | undefined;
    if (typeof image === 'string') {
      const source = path.resolve(image);
      let stamp = '';
      try {
        const st = fs.statSync(source);
        stamp = `${st.size}:${st.mtimeMs}`;
      } catch {
        // readImageFile reports the missing file.
      }
      key = JSON.stringify([model.fingerprint, model.description.preprocessing, source, stamp]);
      if (stamp && this.memo?.key === key) {
        this.log(`forward pass of ${path.basename(source)} reused (same image, weights and preprocessing)`);
        return this.memo;
      }
    }
    const prepared = await this.prepare(model, image);
    try {
      const all = await this.topK(model, prepared.input, model.description.numClasses);
      const memo: ForwardMemo = { key: key ?? '', modelPath: model.description.path, image: prepared.image, input: Float32Array.from(prepared.input.dataSync() as Float32Array), source: prepared.source, all,
        notes: prepared.notes };
      if (key) this.memo = memo;
      return memo;
    } finally {
      prepared.input.dispose();
    }
  }

  async explain(modelPath: string, image: string | RgbaImage, options: ExplainOptions, hooks: RunHooks = {}): Promise<ExplainResult> {
    const model = await this.modelFor(modelPath, options.preprocessing);
    const description = model.description;
    const methods = validateMethods(options.methods);
    if (options.sanityLayers !== undefined && !(Number.isInteger(options.sanityLayers) && options.sanityLayers >= 1)) {
      throw new LoupeError('BAD_REQUEST', `sanityLayers must be a positive integer (got ${options.sanityLayers})`);
    }
    const params = resolveParams(options.params);
    const layer = this.resolveLayer(model, options.layer);
    const memo = await this.forwardOf(model, image);
    const [h, w, c] = model.graph.inputShape;
    const prepared: Prepared = { image: memo.image, source: memo.source, input: tf.tensor4d(memo.input, [1, h, w, c]), notes: memo.notes };
    try {
      const all = memo.all;
      const predictions = all.slice(0, Math.max(1, options.topK ?? 5));
      const classIndex = options.classIndex ?? predictions[0]!.index;
      if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= description.numClasses) {
        throw new LoupeError('BAD_REQUEST', `class ${classIndex} does not exist: the model has classes 0–${description.numClasses - 1}`);
      }
      const targetPrediction = all.find((p) => p.index === classIndex)!;
      const ctx: AttributionContext = {
        model, input: prepared.input, image: prepared.image, preprocessing: description.preprocessing,
        target: { classIndex, kind: options.target ?? 'logit' }, params, layer: layer ?? '', weights: model.graph.weights, hooks: {}, lanes: this.lanes,
      };
      const sanity = options.sanity ? randomizeTopLayers(model.graph, options.sanityLayers ?? SANITY_LAYERS, params.seed) : undefined;
      const maps: AttributionOutput[] = [];
      const skipped: { method: MethodId; reason: string }[] = [];
      try {
        for (const [i, id] of methods.entries()) {
          const reason = this.inapplicable(model, id, layer);
          if (reason) {
            skipped.push({ method: id, reason });
            continue;
          }
          const share = (f: number, message: string) => hooks.onProgress?.((i + f) / methods.length, message);
          const t0 = performance.now();
          const output = await METHODS.get(id)!.run({ ...ctx, hooks: { ...hooks, onProgress: share } });
          const ms = performance.now() - t0;
          refuseNonFinite(id, output.data, description.path);
          const display = reduceForDisplay(output.data, output.shape, output.display);
          if (sanity) {
            throwIfAborted(hooks.signal);
            const randomized = await METHODS.get(id)!.run({
              ...ctx, weights: sanity.store, weightsVariant: sanity.variant, hooks: { signal: hooks.signal } as RunHooks,
            });
            const randomizedDisplay = reduceForDisplay(randomized.data, randomized.shape, randomized.display);
            const rho = spearman(display, randomizedDisplay);
            if (rho !== undefined) output.figures.sanitySpearman = rho;
            output.notes.push(sanityNote(sanity.layers, rho, display));
          }
          maps.push(toOutput(id, output, display, ms, targetPrediction, ctx, model.passes.backend));
        }
      } finally {
        if (sanity) {
          model.passes.forgetWeights?.(sanity.store);
          sanity.store.dispose();
        }
      }
      hooks.onProgress?.(1, 'done');
      return {
        summary: {
          model: description.path, image: prepared.source, backend: model.passes.backend, inputShape: description.inputShape,
          predictions, maps: maps.map((m) => m.summary), skipped, preprocessing: description.preprocessing,
          ...(prepared.notes.length ? { inputNotes: prepared.notes } : {}),
        },
        maps,
        image: prepared.image,
      };
    } finally {
      prepared.input.dispose();
    }
  }

  /** Loads the model in the lanes, for SmoothGrad and IG on every core from their first run; never rejects for a lane's failure. */
  async warmLanes(modelPath: string): Promise<void> {
    await this.lanes.warm(await this.model(modelPath));
  }

  forget(modelPath?: string): void {
    for (const [key, cached] of this.models) {
      if (modelPath && key !== path.resolve(modelPath)) continue;
      this.models.delete(key);
      if (this.memo?.modelPath === key) this.memo = undefined;
      cached.loaded.then((m) => m.dispose(), () => undefined);
    }
    if (!modelPath) this.memo = undefined;
  }

  /** Paths of the models held in memory, least recently used first. */
  loadedModels(): string[] {
    return [...this.models.keys()];
  }

  /** The model as one request sees it: its loupe.json preprocessing, or the caller's override over it (same graph and weights). */
  private async modelFor(modelPath: string, preprocessing: unknown): Promise<LoadedModel> {
    const model = await this.model(modelPath);
    if (preprocessing === undefined) return model;
    const effective = overridePreprocessing(model.description.preprocessing, preprocessing, model.graph.inputShape[2]);
    return { ...model, description: { ...model.description, preprocessing: effective } };
  }

  /** The loaded model for a path; reloaded when model.json changed on disk. */
  async model(modelPath: string): Promise<LoadedModel> {
    const key = path.resolve(modelPath);
    let mtimeMs = -1;
    try {
      mtimeMs = fs.statSync(key).mtimeMs;
    } catch {
      // readModelFiles reports the missing file with the right error.
    }
    const cached = this.models.get(key);
    if (cached && cached.mtimeMs === mtimeMs) {
      // Most recently used last: the eviction below drops from the front.
      this.models.delete(key);
      this.models.set(key, cached);
      return cached.loaded;
    }
    if (cached) this.forget(key);
    const loaded = loadModel(key, this.onnxRuntime ? { onnxRuntime: this.onnxRuntime } : {});
    this.models.set(key, { mtimeMs, loaded });
    // The model in use and `keepModels` more stay loaded; the others give their tensors and sessions back.
    for (const old of [...this.models.keys()].slice(0, Math.max(0, this.models.size - 1 - this.keepModels))) {
      this.log(`dropping ${path.basename(old)} from memory (keeping the active model and ${this.keepModels} more)`);
      this.forget(old);
    }
    loaded.catch(() => { if (this.models.get(key)?.loaded === loaded) this.models.delete(key); });
    return loaded;
  }

  private async prepare(model: LoadedModel, image: string | RgbaImage): Promise<Prepared> {
    const [h, w, c] = model.graph.inputShape;
    const source = typeof image === 'string' ? path.resolve(image) : '<image>';
    const decoded = typeof image === 'string' ? await readImageFile(source, { maxPixels: this.maxImagePixels }) : image;
    const resized = resizeImage(decoded, w, h);
    const data = toModelInput(resized, model.description.preprocessing, c);
    const small = smallImageNote(decoded, { width: w, height: h });
    return { image: resized, input: tf.tensor4d(data, [1, h, w, c]), source, notes: small ? [small] : [] };
  }

  private async topK(model: LoadedModel, input: tf.Tensor4D, k: number): Promise<Prediction[]> {
    const [out] = await model.passes.forward(input, [model.graph.logitsName]);
    const [logits, probs] = tf.tidy(() => [out!.dataSync() as Float32Array, tf.softmax(out!).dataSync() as Float32Array]);
    out!.dispose();
    const labels = model.description.labels;
    return Array.from(probs.keys())
      .sort((a, b) => probs[b]! - probs[a]!)
      .slice(0, k)
      .map((index) => ({ index, label: labels[index] ?? `class ${index}`, probability: probs[index]!, logit: logits[index]! }));
  }

  private resolveLayer(model: LoadedModel, requested: string | undefined): string | undefined {
    if (requested === undefined) return model.description.defaultCamLayer;
    return spatialLayer(model.description, requested, 'use for Grad-CAM').name;
  }

  private inapplicable(model: LoadedModel, id: MethodId, layer: string | undefined): string | undefined {
    if (id === 'cam' && !model.description.cam.available) return model.description.cam.reason;
    if ((id === 'gradcam' || id === 'guided-gradcam') && !layer) return 'the model has no convolutional feature map';
    return undefined;
  }
}

/** A map with NaN or infinity is never returned as a result (it drew as blank and exited 0): the run fails saying so. */
function refuseNonFinite(method: MethodId, data: Float32Array, modelPath: string): void {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) bad++;
  if (bad > 0) {
    throw new LoupeError('MODEL_INVALID', `the ${method} map holds ${bad} non-finite value${bad === 1 ? '' : 's'} (NaN or infinity) of ${data.length}`, modelPath,
      'the model overflows or divides by zero on this image (a batch norm with a negative variance, an exploding layer): check its weights and layers');
  }
}

function validateMethods(methods: unknown): MethodId[] {
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new LoupeError('BAD_REQUEST', 'no attribution method requested', undefined, `choose from ${[...METHODS.keys()].join(', ')}`);
  }
  for (const m of methods) {
    if (!METHODS.has(m as MethodId)) {
      throw new LoupeError('BAD_REQUEST', `unknown method '${m}'`, undefined, `choose from ${[...METHODS.keys()].join(', ')}`);
    }
  }
  return [...new Set(methods as MethodId[])];
}

function toOutput(id: MethodId, output: MethodOutput, display: Float32Array, ms: number, target: Prediction,
  ctx: AttributionContext, backend: BackendName): AttributionOutput {
  const summary: MapSummary = {
    method: id,
    params: output.params,
    targetClass: target.index,
    label: target.label,
    target: ctx.target.kind,
    logit: target.logit,
    probability: target.probability,
    ms,
    backend,
    shape: output.shape,
    ...(output.lowres ? { lowresShape: output.lowres.shape } : {}),
    signed: output.signed,
    ...(output.layer ? { layer: output.layer } : {}),
    figures: output.figures,
    notes: output.notes,
  };
  const uniform = nearUniformReason({ display, ...(output.lowres ? { lowres: output.lowres.data } : {}), score: ctx.target.kind === 'probability' ? target.probability : target.logit });
  if (uniform) {
    summary.nearUniform = uniform;
    summary.notes = [...summary.notes, uniform];
  }
  return { summary, data: output.data, display, ...(output.lowres ? { lowres: output.lowres.data } : {}) };
}
