/**
 * The Explain panel (view type `loupe.explain`): one panel per window, reused by each "Explain Image".
 * It opens once the forward pass is done (image and predictions), then fills in map by map, cheapest first
 * (src/host/panels/progressive.ts), each map from the explanation cache when it was computed before. The host
 * keeps the raw maps (for JSON export); the webview gets display maps only. A reload restores the panel from
 * the small `PanelState` the webview persists, and its maps from the cache (no worker call when all are there).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MethodId } from '../../protocol/types';
import {
  DEFAULT_UI,
  isFromWebview,
  isPanelState,
  type FromWebview,
  type PanelState,
  type ShowNames,
  type ToWebview,
} from '../../protocol/webview';
import { explainOptionsFrom, preprocessingFor } from '../config';
import { DEFAULT_LABELS_NAME, defaultsNote, exists, sidecarPathOf } from '../sidecar/sidecarFile';
import { resolveInWorkspace } from '../workspacePaths';
import type { LoupeContext } from '../context';
import type { ClientExplainResult } from '../workerClient';
import { featureLayers, mapJson, pngFromDataUrl, spatialLayers, webviewImage, webviewMap } from './explainData';
import { modelLabel } from '../format';
import { exportFolderFor } from '../exports/exportFolder';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, showErrorWithLog, withWorkerProgress, type ProgressReporter } from './workerTask';
import { ExplainCache } from '../explainCache/store';
import { fileHash, modelFingerprint, persistHashes } from '../explainCache/fingerprint';
import { cheapestFirst, ProgressiveExplanation, type Change, type RunTarget } from './progressive';
import type { AttributionOutput } from '../../protocol/results';
import type { WebviewMap, WebviewProgress } from '../../protocol/webview';

export const EXPLAIN_VIEW_TYPE = 'loupe.explain';

const GRADCAM_METHODS: readonly MethodId[] = ['gradcam', 'guided-gradcam'];

export interface ExplainImageOptions {
  classIndex?: number;
  layer?: string;
  methods?: MethodId[];
}

export function registerExplainPanel(ctx: LoupeContext): vscode.Disposable {
  return registerPanelSerializer(ctx, EXPLAIN_VIEW_TYPE, 'Explain panel', isPanelState, (panel, state) => {
    const restored = new ExplainPanel(ctx, panel, state);
    ctx.log.info(`Explain panel restored for ${state.imagePath}; reading its maps from the cache`);
    // Not awaited: the panel shows its cards filling in (from the cache, else the worker).
    void restored.restore();
  });
}

let sharedCache: { root: string; maxBytes: number; cache: ExplainCache } | undefined;

/** The window's explanation cache: beside the dissections in the extension's global storage, capped by loupe.cache.maxMegabytes. */
export function explanationCache(ctx: LoupeContext): ExplainCache {
  const root = path.join(path.dirname(ctx.dissections.cacheDir.fsPath), 'explanations');
  const maxBytes = ctx.config().cache.maxMegabytes * 1024 * 1024;
  if (sharedCache?.root !== root || sharedCache.maxBytes !== maxBytes) {
    sharedCache = { root, maxBytes, cache: new ExplainCache({ root, maxBytes, log: (line) => ctx.log.info(line) }) };
    persistHashes(path.join(root, 'file-hashes.json'));
  }
  return sharedCache.cache;
}

/** A progressive explanation of `state`'s image with the settings of now; `onChange` reaches the panel showing it. */
function newExplanation(ctx: LoupeContext, state: PanelState, onChange: (change: Change) => void): ProgressiveExplanation {
  const config = ctx.config();
  const preprocessing = preprocessingFor(config, state.modelPath, resolveInWorkspace(state.modelPath));
  const { methods: _methods, ...base } = explainOptionsFrom(config, {});
  const target: RunTarget = {
    modelPath: state.modelPath, imagePath: state.imagePath,
    ...(state.classIndex !== undefined ? { classIndex: state.classIndex } : {}), ...(state.layer !== undefined ? { layer: state.layer } : {}),
  };
  return new ProgressiveExplanation(target, { ...base, ...(preprocessing ? { preprocessing } : {}) }, {
    cache: explanationCache(ctx),
    fingerprints: async () => ({
      model: await modelFingerprint(state.modelPath),
      image: (await fileHash(state.imagePath)) ?? `missing:${state.imagePath}`,
    }),
    log: (line) => ctx.log.info(line),
    onChange,
    backend: {
      forward: async (signal) => {
        const forward = await ctx.client.forward(state.modelPath, state.imagePath,
          { topK: config.topK, ...(preprocessing ? { preprocessing } : {}) }, { signal });
        const description = await describe(ctx, state.modelPath);
        return {
          ...forward,
          ...(description ? {
            layers: spatialLayers(description.layers), numClasses: description.numClasses,
            featureLayers: featureLayers(description.layers, description.defaultCamLayer),
          } : {}),
        };
      },
      explain: async (options, signal, onProgress) => {
        const result = await ctx.client.explain(state.modelPath, state.imagePath, options, { signal, onProgress });
        const map = result.maps[0];
        if (map) return { map };
        return { skipped: result.summary.skipped[0]?.reason ?? 'not computed' };
      },
    },
  });
}

async function describe(ctx: LoupeContext, modelPath: string) {
  try {
    return ctx.activeModel()?.uri.fsPath === modelPath ? await ctx.describeActive() : await ctx.client.describe(modelPath);
  } catch (err) {
    ctx.log.warn(`Explain panel: could not list the layers of ${modelPath}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Runs "Explain Image" for `imageUri` with the active model: the forward pass, then the panel (created, or
 * reused and revealed) fills in map by map. One cancellable notification follows the whole run; failures
 * become error notifications; a cancel is only logged.
 */
export async function explainImage(ctx: LoupeContext, imageUri: vscode.Uri, options: ExplainImageOptions = {}): Promise<void> {
  const model = ctx.activeModel();
  if (!model) {
    await showErrorWithLog(ctx, 'Loupe: no active model: open a folder with a model (a TF.js model.json, an .onnx, .keras or .h5 file), or pick one with "Loupe: Select Active Model".');
    return;
  }
  const state: PanelState = {
    modelPath: model.uri.fsPath,
    imagePath: imageUri.fsPath,
    methods: options.methods ?? [...ctx.config().methods],
    ui: ExplainPanel.current?.state.ui ?? { ...DEFAULT_UI },
    ...(options.classIndex !== undefined ? { classIndex: options.classIndex } : {}),
    ...(options.layer !== undefined ? { layer: options.layer } : {}),
  };
  // This run's result replaces whatever the panel shows: a panel run still going would overwrite it.
  ExplainPanel.current?.cancel();
  const abort = new AbortController();
  let panel: ExplainPanel | undefined;
  const explanation = newExplanation(ctx, state, (change) => panel?.changed(explanation, change));
  await runUnderNotification(ctx, explanation, state, abort, async () => {
    await explanation.ensureForward(abort.signal, false, cheapestFirst(state.methods)[0]);
    panel = ExplainPanel.current ?? ExplainPanel.create(ctx, state);
    panel.panel.reveal(undefined, true);
    return panel.adopt(explanation, state, abort);
  });
}

/** `work` (which returns the methods it computes and the run itself) under the "explaining" notification, settled the panels' way. */
async function runUnderNotification(ctx: LoupeContext, explanation: ProgressiveExplanation, state: PanelState, abort: AbortController,
  work: () => Promise<{ methods: readonly MethodId[]; run: (report: ProgressReporter) => Promise<void> }>, onError?: (message: string) => void): Promise<void> {
  const started = performance.now();
  await settleWorkerTask(ctx, { name: `explaining ${state.imagePath}` }, abort, async () => {
    await withWorkerProgress(`Loupe: explaining ${path.basename(state.imagePath)} with ${modelLabel(vscode.workspace.asRelativePath(state.modelPath, false))}`, abort, async (report) => {
      report(0, 'forward pass');
      const { methods, run } = await work();
      await run(report);
      logRun(ctx, explanation, state, methods, started);
    });
  }, onError);
}

function logRun(ctx: LoupeContext, explanation: ProgressiveExplanation, state: PanelState, methods: readonly MethodId[], started: number): void {
  const shown = methods.map((m) => explanation.maps.get(m)).filter((m) => m !== undefined);
  const calls = explanation.workerCalls;
  ctx.log.info(`explained ${state.imagePath} with ${state.modelPath} (${methods.join(', ')}) in ${Math.round(performance.now() - started)} ms`
    + `${calls === 0 ? ', all from the cache (no worker call)' : ` (${calls} worker call${calls === 1 ? '' : 's'})`}: `
    + shown.map((m) => `${m.output.summary.method} ${m.fromCache ? 'from cache' : `${Math.round(m.output.summary.ms)} ms`}`).join(', '));
  for (const [method, reason] of explanation.skipped) ctx.log.info(`  ${method} skipped: ${reason}`);
}

/** The notification's bar and message from the panel's state: maps done out of those asked, and the running one's progress. */
function notificationProgress(explanation: ProgressiveExplanation, methods: readonly MethodId[], report: ProgressReporter): (change: Change) => void {
  return (change) => {
    if (change.kind !== 'progress') return;
    const done = methods.filter((m) => !explanation.pending.has(m)).length;
    report((done + Math.max(0, Math.min(1, change.fraction))) / Math.max(1, methods.length), change.message);
  };
}

/** Ids for what a page is sent once (unique across panels, so a page never mistakes one map for another). */
let wireIds = 0;

export class ExplainPanel {
  /** The panel "Explain Image" reuses. */
  static current: ExplainPanel | undefined;

  private explanation: ProgressiveExplanation | undefined;
  /** Webview forms of the maps shown, converted once per map. */
  private readonly wireMaps = new WeakMap<AttributionOutput, WebviewMap>();
  private wireImage: { of: unknown; image: ReturnType<typeof webviewImage> } | undefined;
  /** What the panel says when the model has no loupe.json (undefined when it has one). */
  private preprocessingNote: string | undefined;
  /** The runs going on for this panel (the main one, and additions after it); "Explain Image" cancels them all. */
  private readonly runs = new Set<AbortController>();
  /** The notification's reporter while a run goes on (progress of the running map). */
  private report: ((change: Change) => void) | undefined;
  /** Runs that add to what is shown (occlusion, one method, sanity checks) wait for the run before them. */
  private queue: Promise<unknown> = Promise.resolve();
  private postScheduled = false;
  /** Ids of the image and maps whose values the page holds: those the last message named (a page that says `ready` holds none). */
  private readonly onPage = new Set<string>();
  private readonly channel: PanelChannel<ToWebview, FromWebview>;

  static create(ctx: LoupeContext, state: PanelState): ExplainPanel {
    const panel = vscode.window.createWebviewPanel(EXPLAIN_VIEW_TYPE, title(state),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, panelWebviewOptions(ctx.extensionUri));
    return new ExplainPanel(ctx, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, readonly panel: vscode.WebviewPanel, public state: PanelState) {
    ExplainPanel.current = this;
    panel.webview.options = panelWebviewOptions(ctx.extensionUri);
    this.channel = new PanelChannel<ToWebview, FromWebview>(ctx, panel, {
      name: 'Explain panel',
      script: 'explain.js',
      style: 'explain.css',
      title: title(state),
      accepts: isFromWebview,
      onReady: () => {
        this.onPage.clear();
        this.postShow();
      },
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void showErrorWithLog(ctx, `Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
  }

  /**
   * Shows `explanation` (its forward pass done) for `state`, and returns the methods to compute with the run
   * that computes them (the caller runs it under its notification).
   */
  async adopt(explanation: ProgressiveExplanation, state: PanelState, abort: AbortController) {
    this.explanation = explanation;
    this.state = state;
    this.panel.title = title(state);
    this.channel.clearError();
    this.preprocessingNote = await this.sidecarNote(state.modelPath, explanation.forward?.numClasses);
    const methods = state.methods;
    explanation.enqueue(methods); // their cards wait on screen from the first frame
    this.postShow();
    return {
      methods,
      run: (report: ProgressReporter) => {
        const done = this.track(abort, () => {
          this.report = notificationProgress(explanation, methods, report);
          return explanation.compute(methods, abort.signal, { sanity: this.ctx.config().sanityCheck });
        });
        this.queue = done.catch(() => undefined); // additions (occlusion, sanity checks) wait for it
        return done;
      },
    };
  }

  /** After a window reload: the forward pass and every map from the cache when there, else from the worker. */
  async restore(): Promise<void> {
    const abort = new AbortController();
    const started = performance.now();
    const explanation = newExplanation(this.ctx, this.state, (change) => this.changed(explanation, change));
    await settleWorkerTask(this.ctx, { name: `restoring the Explain panel of ${this.state.imagePath}` }, abort, async () => {
      await explanation.ensureForward(abort.signal, false, cheapestFirst(this.state.methods)[0]);
      const { methods, run } = await this.adopt(explanation, this.state, abort);
      await run(() => undefined);
      const calls = explanation.workerCalls;
      this.ctx.log.info(`Explain panel restored for ${this.state.imagePath} in ${Math.round(performance.now() - started)} ms: `
        + `${methods.filter((m) => explanation.maps.get(m)?.fromCache).length}/${methods.length} maps from the cache, `
        + (calls === 0 ? 'no worker call' : `${calls} worker call${calls === 1 ? '' : 's'}`));
    }, (message) => this.channel.fail(message));
  }

  /** Stops this panel's runs, if any is going. */
  cancel(): void {
    for (const run of this.runs) run.abort();
  }

  /** A change in the explanation this panel shows: the card's progress line, or everything (coalesced). */
  changed(explanation: ProgressiveExplanation, change: Change): void {
    if (explanation !== this.explanation) return;
    if (change.kind === 'progress') {
      this.report?.(change);
      this.channel.post({ type: 'mapProgress', method: change.method, fraction: change.fraction, message: change.message });
      return;
    }
    if (this.postScheduled) return;
    this.postScheduled = true;
    setImmediate(() => {
      this.postScheduled = false;
      this.postShow();
    });
  }

  /** Runs `fn` as one of this panel's runs: busy while any goes on. */
  private async track(abort: AbortController, fn: () => Promise<void>): Promise<void> {
    this.runs.add(abort);
    this.channel.setBusy('Computing the maps…');
    try {
      await fn();
    } finally {
      this.runs.delete(abort);
      if (this.runs.size === 0) {
        this.report = undefined;
        this.channel.setBusy(undefined);
      }
    }
  }

  /** A new explanation of this panel's image (another class, or everything again) under the notification. */
  private async replace(next: Partial<PanelState>, how: 'refresh' | 'cached'): Promise<void> {
    const refresh = how === 'refresh';
    this.cancel();
    const state = { ...this.state, ...next };
    const abort = new AbortController();
    const explanation = newExplanation(this.ctx, state, (change) => this.changed(explanation, change));
    // Another class of the same image: the forward pass comes from the explanation cache (memory), keyed by the
    // current weights and preprocessing, so a retrained model is never answered with the old predictions.
    await runUnderNotification(this.ctx, explanation, state, abort, async () => {
      if (refresh) explanation.forward = undefined;
      await explanation.ensureForward(abort.signal, refresh);
      const adopted = await this.adopt(explanation, state, abort);
      if (!refresh) return adopted;
      return { methods: adopted.methods, run: (report: ProgressReporter) => this.track(abort, () => {
        this.report = notificationProgress(explanation, adopted.methods, report);
        return explanation.compute(adopted.methods, abort.signal, { refresh: true, sanity: this.ctx.config().sanityCheck });
      }) };
    }, (message) => this.channel.fail(message));
  }

  /** Adds to what is shown (after the run going on): `methods` computed, or their sanity check. */
  private add(what: 'compute' | 'sanity', methods: readonly MethodId[]): Promise<void> {
    const explanation = this.explanation;
    if (!explanation) return Promise.resolve();
    const step = async (): Promise<void> => {
      if (explanation !== this.explanation) return;
      const abort = new AbortController();
      await settleWorkerTask(this.ctx, { name: `${what === 'sanity' ? 'sanity check of' : 'explaining'} ${this.state.imagePath}` }, abort,
        () => this.track(abort, () => (what === 'sanity'
          ? explanation.sanityCheck(methods, abort.signal)
          : explanation.compute(methods, abort.signal))), (message) => this.channel.fail(message));
      if (what === 'compute') this.state = { ...this.state, methods: [...new Set([...this.state.methods, ...methods])] };
      this.postShow();
    };
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The defaults the engine used when the model has no loupe.json (checked in the model's folder by the host). */
  private async sidecarNote(modelPath: string, numClasses: number | undefined): Promise<string | undefined> {
    if (await exists(sidecarPathOf(modelPath))) return undefined;
    const hasLabels = await exists(path.join(path.dirname(modelPath), DEFAULT_LABELS_NAME));
    const overridden = preprocessingFor(this.ctx.config(), modelPath, resolveInWorkspace(modelPath)) !== undefined;
    return defaultsNote(modelPath, numClasses, hasLabels, overridden);
  }

  /** The maps shown as one result (JSON export). */
  private result(): ClientExplainResult | undefined {
    const e = this.explanation;
    const summary = e?.summary(this.state.methods);
    if (!e?.forward || !summary) return undefined;
    return { summary, maps: e.ordered(this.state.methods).map((m) => m.output), image: e.forward.image };
  }

  private currentLayer(): string | undefined {
    return this.state.layer ?? [...(this.explanation?.maps.values() ?? [])].find((m) => GRADCAM_METHODS.includes(m.output.summary.method))?.output.summary.layer;
  }

  private postShow(): void {
    const e = this.explanation;
    const forward = e?.forward;
    const summary = e?.summary(this.state.methods);
    if (!e || !forward || !summary) return;
    if (this.wireImage?.of !== forward) this.wireImage = { of: forward, image: webviewImage(forward.image, `image-${++wireIds}`) };
    const image = forward.image;
    const maps = e.ordered(this.state.methods).map((m) => {
      let wire = this.wireMaps.get(m.output);
      if (!wire) {
        wire = webviewMap({ summary, maps: [m.output], image } as ClientExplainResult, 0, `map-${++wireIds}`);
        this.wireMaps.set(m.output, wire);
      }
      return wire;
    });
    // What the page already holds goes by id alone.
    const once = <T extends { id: string }>(wire: T, heavy: keyof T): T => {
      if (!this.onPage.has(wire.id)) return wire;
      const { [heavy]: _sent, ...light } = wire;
      return light as T;
    };
    const progress: WebviewProgress = {
      pending: this.state.methods.concat([...e.pending.keys()].filter((m) => !this.state.methods.includes(m)))
        .map((m) => e.pending.get(m)).filter((p) => p !== undefined).map((p) => ({ ...p })),
      fromCache: [...e.maps].filter(([, m]) => m.fromCache).map(([method]) => method),
      sanityMode: this.ctx.config().sanityCheck,
      ...(e.sanity ? { sanity: e.sanity } : {}),
    };
    const layer = this.currentLayer();
    const posted = this.channel.post({
      type: 'show', result: { summary, image: once(this.wireImage.image, 'rgba'), maps: maps.map((m) => once(m, 'display')) },
      layers: forward.layers ?? [], state: this.state, progress,
      ...(layer !== undefined ? { layer } : {}), ...(this.preprocessingNote ? { preprocessingNote: this.preprocessingNote } : {}),
      ...namesFor(this.state.modelPath, forward.featureLayers),
    });
    if (!posted) return;
    // The page keeps what this message names and drops the rest; so does this set.
    this.onPage.clear();
    for (const id of [this.wireImage.image.id, ...maps.map((m) => m.id)]) this.onPage.add(id);
  }

  private async handle(msg: Exclude<FromWebview, { type: 'ready' }>): Promise<void> {
    const numClasses = this.explanation?.forward?.numClasses;
    switch (msg.type) {
      case 'explainClass': {
        if (numClasses !== undefined && msg.classIndex >= numClasses) {
          this.ctx.log.warn(`Explain panel: ignored class ${msg.classIndex}: the model has ${numClasses} classes`);
          return;
        }
        await this.replace({ classIndex: msg.classIndex }, 'cached');
        return;
      }
      case 'setLayer': {
        if (!(this.explanation?.forward?.layers ?? []).includes(msg.layer)) {
          this.ctx.log.warn(`Explain panel: ignored layer "${msg.layer.slice(0, 80)}": not a spatial layer of the model`);
          return;
        }
        const shown = [...(this.explanation?.maps.keys() ?? [])];
        const methods = GRADCAM_METHODS.filter((m) => shown.includes(m));
        this.state = { ...this.state, layer: msg.layer };
        if (this.explanation) this.explanation.target.layer = msg.layer;
        await this.add('compute', methods.length ? methods : ['gradcam']);
        return;
      }
      case 'runOcclusion':
        await this.add('compute', ['occlusion']);
        return;
      case 'computeMethod':
        await this.add('compute', [msg.method]);
        return;
      case 'cancelMethod':
        this.explanation?.cancelMethod(msg.method);
        return;
      case 'sanityCheck':
        await this.add('sanity', msg.method ? [msg.method] : [...(this.explanation?.maps.keys() ?? [])]);
        return;
      case 'recompute':
        await this.replace({}, 'refresh');
        return;
      case 'exportPng':
        await this.exportPng(msg.method, msg.dataUrl);
        return;
      case 'exportJson':
        await this.exportJson(msg.method);
        return;
      case 'openLayer':
        await this.ctx.codeLinks.open(msg.layer);
        return;
      case 'ui':
        this.state = { ...this.state, ui: msg.ui };
        return;
      case 'createSidecar':
        // The maps shown were computed with the defaults: once loupe.json exists, compute them again with it.
        if (await this.ctx.createSidecar({ modelPath: this.state.modelPath })) await this.replace({}, 'cached');
        return;
    }
  }

  private async exportPng(method: MethodId, dataUrl: string): Promise<void> {
    const png = pngFromDataUrl(dataUrl);
    if (!png) {
      this.ctx.log.warn(`Explain panel: refused a ${method} PNG export that is not a PNG image`);
      return;
    }
    await this.save(png, `${method}.png`, { 'PNG image': ['png'] });
  }

  private async exportJson(method: MethodId): Promise<void> {
    const result = this.result();
    const json = result && mapJson(result, method);
    if (!json) {
      this.ctx.log.warn(`Explain panel: no ${method} map to export`);
      return;
    }
    await this.save(Buffer.from(`${JSON.stringify(json)}\n`, 'utf8'), `${method}.json`, { JSON: ['json'] });
  }

  private async save(bytes: Uint8Array, suffix: string, filters: Record<string, string[]>): Promise<void> {
    const stem = path.basename(this.state.imagePath).replace(/\.[^.]+$/, '');
    const defaultUri = await exportTarget(this.state.imagePath, `${stem}_${suffix}`);
    const target = await vscode.window.showSaveDialog({ defaultUri, filters, title: `Loupe: save ${suffix}` });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, bytes);
    this.ctx.log.info(`Explain panel: wrote ${target.fsPath} (${bytes.length} bytes)`);
    void vscode.window.showInformationMessage(`Loupe: saved ${vscode.workspace.asRelativePath(target)}`);
  }

  private dispose(): void {
    this.cancel();
    if (ExplainPanel.current === this) ExplainPanel.current = undefined;
  }
}

/** The model as the Models view names it, and the layers the Grad-CAM picker offers first. */
function namesFor(modelPath: string, featureLayers: string[] | undefined): ShowNames {
  const modelName = modelLabel(vscode.workspace.asRelativePath(modelPath, false));
  return featureLayers ? { modelName, featureLayers } : { modelName };
}

/** The save dialog's default: the export folder (created on first use), never beside the image. */
async function exportTarget(imagePath: string, file: string): Promise<vscode.Uri> {
  const folder = vscode.Uri.file(exportFolderFor(imagePath));
  await vscode.workspace.fs.createDirectory(folder);
  return vscode.Uri.joinPath(folder, file);
}

function title(state: PanelState): string {
  return `Loupe: ${path.basename(state.imagePath)}`;
}
