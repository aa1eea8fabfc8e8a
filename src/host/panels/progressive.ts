/**
 * What the Explain panel shows while it fills in, and the order it fills in: the forward pass first (the image
 * and the predictions), then one map per worker request, cheapest first, each from the cache when the same
 * weights, image, class, method, parameters and preprocessing were explained before. Each pending map can be
 * cancelled on its own; the sanity check runs on demand or after the maps, never before them.
 * No `vscode` import: the panel supplies the worker and the cache, tests supply the real worker too.
 */
import { CancelledError } from '../../protocol/errors';
import type { AttributionOutput } from '../../protocol/results';
import type { ExplainOptions, ExplainSummary, MethodId } from '../../protocol/types';
import type { SanityCheckMode } from '../config';
import { forwardKey, mapKey, type CachedForward, type ExplainCache } from '../explainCache/store';

/** Cheapest first: one backward pass, then the layer-gradient ones, then the sampled ones, occlusion last. */
export const COST_ORDER: readonly MethodId[] = [
  'gradient', 'gradxinput', 'cam', 'gradcam', 'guided-backprop', 'deconvnet', 'guided-gradcam',
  'smoothgrad', 'smoothgrad-sq', 'vargrad', 'ig', 'occlusion',
];
/** `methods` in the order a run computes them. */
export function cheapestFirst(methods: readonly MethodId[]): MethodId[] {
  return [...methods].sort((a, b) => COST_ORDER.indexOf(a) - COST_ORDER.indexOf(b));
}

const GRADCAM_METHODS: readonly MethodId[] = ['gradcam', 'guided-gradcam'];

export type MapStatus = 'queued' | 'running' | 'cancelled' | 'failed';
export interface PendingMap { method: MethodId; status: MapStatus; fraction?: number; message?: string }
export interface ShownMap { output: AttributionOutput; fromCache: boolean }

/** The worker, as a progressive run uses it. */
export interface ExplainBackend {
  forward(signal: AbortSignal): Promise<CachedForward>;
  /** One method (options.methods has one entry): its map, or why it does not apply. */
  explain(options: ExplainOptions, signal: AbortSignal, onProgress: (fraction: number, message: string) => void):
    Promise<{ map: AttributionOutput } | { skipped: string }>;
}

export interface RunTarget {
  modelPath: string;
  imagePath: string;
  classIndex?: number;
  layer?: string;
}

/** What changed, for the panel: everything, one pending map's progress, or the sanity line. */
export type Change = { kind: 'all' } | { kind: 'progress'; method: MethodId; fraction: number; message: string };

export interface ProgressiveDeps {
  backend: ExplainBackend;
  cache: ExplainCache;
  /** Content hashes of the model's files and of the image (src/host/explainCache/fingerprint.ts). */
  fingerprints(): Promise<{ model: string; image: string }>;
  log(line: string): void;
  onChange(change: Change): void;
}

interface EarlyMap {
  method: MethodId;
  abort: AbortController;
  result: Promise<{ map: AttributionOutput } | { skipped: string }>;
  progress: { to: (fraction: number, message: string) => void };
}

export class ProgressiveExplanation {
  forward: CachedForward | undefined;
  forwardFromCache = false;
  readonly maps = new Map<MethodId, ShownMap>();
  readonly skipped = new Map<MethodId, string>();
  readonly pending = new Map<MethodId, PendingMap>();
  /** The sanity check's line in the panel (undefined: none to show). */
  sanity: { running: boolean; text: string } | undefined;
  /** Worker calls this explanation made (forward, maps, sanity checks): 0 when everything came from the cache. */
  workerCalls = 0;
  private readonly aborts = new Map<MethodId, AbortController>();
  private fp: { model: string; image: string } | undefined;
  /** The map asked for together with the forward pass, until the run reaches it. */
  private early: EarlyMap | undefined;

  constructor(readonly target: RunTarget, private readonly base: Omit<ExplainOptions, 'methods' | 'classIndex' | 'sanity' | 'layer'>,
    private readonly deps: ProgressiveDeps) {}

  /** The class the maps explain: the one asked for, else the top-1 prediction. */
  get classIndex(): number | undefined {
    return this.target.classIndex ?? this.forward?.predictions[0]?.index;
  }

  /**
   * The forward pass: from the cache, else the worker (then stored). When the worker computes it, `headStart`
   * (the first map to come) is asked for at once behind it, so the worker computes that map while the host
   * shows the predictions: a forward pass missing from the cache means its maps are missing too.
   */
  async ensureForward(signal: AbortSignal, refresh = false, headStart?: MethodId): Promise<CachedForward> {
    if (this.forward) return this.forward;
    const fp = await this.fingerprints();
    const key = forwardKey({ image: fp.image, preprocessing: this.base.preprocessing, topK: this.base.topK ?? 5 });
    const cached = refresh ? undefined : await this.deps.cache.getForward(fp.model, key);
    if (cached) {
      this.deps.log(`forward pass of ${cached.source} from the cache (no worker call)`);
      this.forward = cached;
      this.forwardFromCache = true;
    } else {
      this.workerCalls++;
      const forward = this.deps.backend.forward(signal);
      if (headStart) this.startEarly(headStart, signal);
      this.forward = await forward;
      void this.deps.cache.putForward(fp.model, key, this.forward);
    }
    this.deps.onChange({ kind: 'all' });
    return this.forward;
  }

  /** Computes `methods` (cheapest first) after the forward pass; maps already shown for them are replaced. */
  async compute(methods: readonly MethodId[], signal: AbortSignal, options: { refresh?: boolean; sanity?: SanityCheckMode } = {}): Promise<void> {
    await this.ensureForward(signal, options.refresh);
    this.enqueue(methods);
    for (const method of cheapestFirst(methods)) {
      if (signal.aborted) break;
      if (this.pending.get(method)?.status !== 'queued') continue; // cancelled while it waited
      await this.computeOne(method, signal, options.refresh ?? false);
    }
    if (signal.aborted) {
      for (const p of this.pending.values()) if (p.status === 'queued' || p.status === 'running') p.status = 'cancelled';
      this.deps.onChange({ kind: 'all' });
      throw new CancelledError();
    }
    if (options.sanity === 'afterMaps') await this.sanityCheck([...this.maps.keys()], signal);
  }

  /** Marks `methods` as to come (their shown maps go): the panel shows their cards waiting before the run starts. */
  enqueue(methods: readonly MethodId[]): void {
    for (const m of methods) {
      if (this.pending.get(m)?.status === 'queued') continue;
      this.maps.delete(m);
      this.skipped.delete(m);
      this.pending.set(m, { method: m, status: 'queued' });
    }
    this.deps.onChange({ kind: 'all' });
  }

  /** Stops one pending map (queued or running); the others go on. */
  cancelMethod(method: MethodId): void {
    const p = this.pending.get(method);
    if (!p || (p.status !== 'queued' && p.status !== 'running')) return;
    if (p.status === 'queued') p.status = 'cancelled';
    this.aborts.get(method)?.abort();
    this.deps.onChange({ kind: 'all' });
  }

  /**
   * The model-randomisation check for the shown maps of `methods` that lack it: each map is computed again on
   * the original and on the randomised model (about twice the map's time), then stored with its figure.
   */
  async sanityCheck(methods: readonly MethodId[], signal: AbortSignal): Promise<void> {
    const todo = methods.filter((m) => this.maps.has(m) && this.maps.get(m)!.output.summary.figures.sanitySpearman === undefined);
    if (todo.length === 0) return;
    const started = performance.now();
    try {
      for (const [i, method] of todo.entries()) {
        if (signal.aborted) throw new CancelledError();
        this.sanity = { running: true, text: `Sanity check ${i + 1}/${todo.length}: ${method}…` };
        this.deps.onChange({ kind: 'all' });
        const result = await this.request(method, true, signal, (f, message) => {
          this.sanity = { running: true, text: `Sanity check ${i + 1}/${todo.length}: ${method} · ${message || `${Math.round(f * 100)} %`}` };
          this.deps.onChange({ kind: 'all' });
        });
        if ('map' in result) this.show(method, result.map, false);
      }
      this.sanity = { running: false, text: `Sanity check done: ${todo.length} map${todo.length === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(1)} s` };
    } catch (err) {
      this.sanity = { running: false, text: signal.aborted || err instanceof CancelledError ? 'Sanity check cancelled' : `Sanity check failed: ${(err as Error).message}` };
      throw err;
    } finally {
      this.deps.onChange({ kind: 'all' });
    }
  }

  /** The panel's ExplainSummary: the forward pass's facts and the maps shown so far, in `order`. */
  summary(order: readonly MethodId[]): ExplainSummary | undefined {
    const f = this.forward;
    if (!f) return undefined;
    return {
      model: f.model, image: f.source, backend: f.backend, inputShape: f.inputShape, predictions: f.predictions,
      maps: this.ordered(order).map((m) => m.output.summary),
      skipped: [...this.skipped].map(([method, reason]) => ({ method, reason })),
      preprocessing: f.preprocessing,
      ...(f.inputNotes?.length ? { inputNotes: f.inputNotes } : {}),
    };
  }

  ordered(order: readonly MethodId[]): ShownMap[] {
    const rank = (m: MethodId): number => (order.includes(m) ? order.indexOf(m) : order.length + COST_ORDER.indexOf(m));
    return [...this.maps].sort(([a], [b]) => rank(a) - rank(b)).map(([, v]) => v);
  }

  /** Asks the worker for `method`'s map before the forward pass is back (its class: the one asked, else the worker's top-1). */
  private startEarly(method: MethodId, signal: AbortSignal): void {
    const abort = new AbortController();
    const follow = (): void => abort.abort();
    signal.addEventListener('abort', follow, { once: true });
    this.aborts.set(method, abort);
    const progress = { to: (_fraction: number, _message: string): void => undefined };
    const result = this.request(method, false, abort.signal, (f, m) => progress.to(f, m))
      .finally(() => signal.removeEventListener('abort', follow));
    result.catch(() => undefined); // awaited by computeOne; a run cancelled before it gets there drops it
    this.early = { method, abort, result, progress };
  }

  private async computeOne(method: MethodId, signal: AbortSignal, refresh: boolean): Promise<void> {
    const pending = this.pending.get(method)!;
    const early = this.early?.method === method ? this.early : undefined;
    this.early = undefined;
    if (early && !refresh && !early.abort.signal.aborted) {
      return this.settle(method, pending, signal, early.abort, early.result, (handler) => { early.progress.to = handler; });
    }
    early?.abort.abort();
    const { model, key } = await this.keyOf(method);
    const cached = refresh ? undefined : await this.deps.cache.getMap(model, key);
    if (cached) {
      this.deps.log(`${method} of ${this.target.imagePath} (class ${this.classIndex}) from the cache (no worker call)`);
      this.pending.delete(method);
      this.maps.set(method, { output: cached, fromCache: true });
      this.deps.onChange({ kind: 'all' });
      return;
    }
    const own = new AbortController();
    this.aborts.set(method, own);
    let progress: (fraction: number, message: string) => void = () => undefined;
    const result = this.request(method, false, own.signal, (f, m) => progress(f, m));
    return this.settle(method, pending, signal, own, result, (handler) => { progress = handler; });
  }

  /** Follows one map's worker request to its end: progress on its card, then the map, its skip reason, or its failure. */
  private async settle(method: MethodId, pending: PendingMap, signal: AbortSignal, own: AbortController,
    request: Promise<{ map: AttributionOutput } | { skipped: string }>, onProgress: (handler: (fraction: number, message: string) => void) => void): Promise<void> {
    pending.status = 'running';
    this.deps.onChange({ kind: 'all' });
    const follow = (): void => own.abort();
    signal.addEventListener('abort', follow, { once: true });
    if (signal.aborted) own.abort();
    onProgress((fraction, message) => {
      pending.fraction = fraction;
      pending.message = message;
      this.deps.onChange({ kind: 'progress', method, fraction, message });
    });
    try {
      const result = await request;
      this.pending.delete(method);
      if ('map' in result) this.show(method, result.map, false);
      else this.skipped.set(method, result.skipped);
    } catch (err) {
      if (own.signal.aborted) {
        pending.status = 'cancelled';
        this.deps.log(`${method} of ${this.target.imagePath}: cancelled`);
      } else {
        pending.status = 'failed';
        pending.message = (err as Error).message;
        this.deps.log(`${method} of ${this.target.imagePath} failed: ${(err as Error).message}`);
      }
    } finally {
      signal.removeEventListener('abort', follow);
      this.aborts.delete(method);
      this.deps.onChange({ kind: 'all' });
    }
  }

  private async request(method: MethodId, sanity: boolean, signal: AbortSignal, onProgress: (f: number, m: string) => void) {
    const classIndex = this.classIndex;
    const layer = GRADCAM_METHODS.includes(method) ? this.target.layer : undefined;
    this.workerCalls++;
    return this.deps.backend.explain({
      ...this.base, methods: [method], ...(classIndex !== undefined ? { classIndex } : {}), ...(layer !== undefined ? { layer } : {}), sanity,
    }, signal, onProgress);
  }

  /** Shows a computed map and stores it (the sanity check's figure goes with it). */
  private show(method: MethodId, output: AttributionOutput, fromCache: boolean): void {
    this.maps.set(method, { output, fromCache });
    void this.keyOf(method).then(({ model, key }) => this.deps.cache.putMap(model, key, output));
    this.deps.onChange({ kind: 'all' });
  }

  private async keyOf(method: MethodId): Promise<{ model: string; key: string }> {
    const fp = await this.fingerprints();
    return {
      model: fp.model,
      key: mapKey({
        image: fp.image, preprocessing: this.base.preprocessing, classIndex: this.classIndex ?? -1, method, params: this.base.params ?? {},
        layer: GRADCAM_METHODS.includes(method) ? this.target.layer : undefined, target: this.base.target ?? 'logit',
      }),
    };
  }

  private async fingerprints(): Promise<{ model: string; image: string }> {
    this.fp ??= await this.deps.fingerprints();
    return this.fp;
  }
}
