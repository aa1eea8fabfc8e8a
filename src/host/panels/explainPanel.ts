/**
 * The Explain panel (view type `loupe.explain`): one panel per window, reused by each "Explain Image".
 * The host keeps the raw result (for JSON export and for merging on-demand runs); the webview gets
 * display maps only. A reload restores the panel from the small `PanelState` the webview persists
 * and recomputes the maps in the worker.
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
  type WebviewResult,
} from '../../protocol/webview';
import { explainOptionsFrom, preprocessingFor } from '../config';
import { DEFAULT_LABELS_NAME, defaultsNote, exists, sidecarPathOf } from '../sidecar/sidecarFile';
import { resolveInWorkspace } from '../workspacePaths';
import type { LoupeContext } from '../context';
import type { ClientExplainResult } from '../workerClient';
import { featureLayers, mapJson, mergeResults, pngFromDataUrl, spatialLayers, toWebviewResult } from './explainData';
import { modelLabel } from '../format';
import { exportFolderFor } from '../exports/exportFolder';
import type { ModelDescription } from '../../protocol/types';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, showErrorWithLog, withWorkerProgress } from './workerTask';

export const EXPLAIN_VIEW_TYPE = 'loupe.explain';

const GRADCAM_METHODS: readonly MethodId[] = ['gradcam', 'guided-gradcam'];

export interface ExplainImageOptions {
  classIndex?: number;
  layer?: string;
  methods?: MethodId[];
}

/** What one run computes; the panel's state supplies the rest. */
interface RunRequest {
  methods: MethodId[];
  classIndex?: number;
  layer?: string;
}

export function registerExplainPanel(ctx: LoupeContext): vscode.Disposable {
  return registerPanelSerializer(ctx, EXPLAIN_VIEW_TYPE, 'Explain panel', isPanelState, (panel, state) => {
    const restored = new ExplainPanel(ctx, panel, state);
    ctx.log.info(`Explain panel restored for ${state.imagePath}; recomputing`);
    // Not awaited: the panel shows (with its busy state) while the worker recomputes.
    void restored.run({ methods: state.methods, ...request(state) }, 'replace');
  });
}

/**
 * Runs "Explain Image" for `imageUri` with the active model, then shows the result in the panel
 * (created, or reused and revealed). Failures become error notifications; a cancel is only logged.
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
  const result = await analyse(ctx, state, { methods: state.methods, ...request(state) }, undefined);
  if (!result) return;
  const panel = ExplainPanel.current ?? ExplainPanel.create(ctx, state);
  panel.panel.reveal(undefined, true);
  await panel.show(result, state);
}

function request(state: PanelState): Omit<RunRequest, 'methods'> {
  return {
    ...(state.classIndex !== undefined ? { classIndex: state.classIndex } : {}),
    ...(state.layer !== undefined ? { layer: state.layer } : {}),
  };
}

/**
 * One analysis in the worker under a cancellable progress notification.
 * Resolves undefined when it failed (after telling the user) or was cancelled.
 */
async function analyse(ctx: LoupeContext, state: PanelState, req: RunRequest, controller: AbortController | undefined,
  onError?: (message: string) => void): Promise<ClientExplainResult | undefined> {
  const abort = controller ?? new AbortController();
  const image = path.basename(state.imagePath);
  const started = performance.now();
  return settleWorkerTask(ctx, { name: `explaining ${state.imagePath}` }, abort, async () => {
    const result = await withWorkerProgress(`Loupe: explaining ${image} with ${modelLabel(vscode.workspace.asRelativePath(state.modelPath, false))}`, abort, (onProgress) => {
      const config = ctx.config();
      const preprocessing = preprocessingFor(config, state.modelPath, resolveInWorkspace(state.modelPath));
      const options = {
        ...explainOptionsFrom(config, req),
        ...(preprocessing ? { preprocessing } : {}),
        // Occlusion is already one forward pass per window; doubling it for the check is not worth it.
        sanity: !req.methods.every((m) => m === 'occlusion'),
      };
      return ctx.client.explain(state.modelPath, state.imagePath, options, { signal: abort.signal, onProgress });
    });
    ctx.log.info(`explained ${state.imagePath} with ${state.modelPath} (${req.methods.join(', ')}) in ${Math.round(performance.now() - started)} ms`
      + ` on ${result.summary.backend}: ${result.maps.map((m) => `${m.summary.method} ${Math.round(m.summary.ms)} ms`).join(', ')}`);
    for (const s of result.summary.skipped) ctx.log.info(`  ${s.method} skipped: ${s.reason}`);
    return result;
  }, onError);
}

export class ExplainPanel {
  /** The panel "Explain Image" reuses. */
  static current: ExplainPanel | undefined;

  private result: ClientExplainResult | undefined;
  private wire: WebviewResult | undefined;
  private layers: string[] = [];
  private numClasses: number | undefined;
  /** The model's name and the Grad-CAM picker's default layers (names people recognise). */
  private names: ShowNames = {};
  /** What the panel says when the model has no loupe.json (undefined when it has one). */
  private preprocessingNote: string | undefined;
  private running: AbortController | undefined;
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
      onReady: () => this.postShow(),
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void showErrorWithLog(ctx, `Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
  }

  /** Shows `result` (computed for `state`) and refreshes the layer list for its model. */
  async show(result: ClientExplainResult, state: PanelState): Promise<void> {
    this.state = state;
    this.panel.title = title(state);
    this.channel.clearError();
    this.setResult(result);
    this.layers = await this.spatialLayersOf(state.modelPath);
    this.preprocessingNote = await this.sidecarNote(state.modelPath);
    this.postShow();
  }

  /** Runs `req` for this panel's model and image; 'replace' shows the new result, 'merge' adds its maps. */
  async run(req: RunRequest, mode: 'replace' | 'merge', next: Partial<PanelState> = {}): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.channel.setBusy(`Computing ${req.methods.join(', ')}…`);
    const result = await analyse(this.ctx, this.state, req, controller, (message) => this.channel.fail(message));
    if (this.running !== controller) return; // a newer run replaced this one
    this.running = undefined;
    this.channel.setBusy(undefined);
    if (!result) return;
    const merged = mode === 'merge' && this.result ? mergeResults(this.result, result) : result;
    const state = { ...this.state, ...next };
    if (mode === 'merge') state.methods = [...new Set([...this.state.methods, ...req.methods])];
    await this.show(merged, state);
  }

  /** Stops this panel's own run, if one is going. */
  cancel(): void {
    this.running?.abort();
  }

  private setResult(result: ClientExplainResult): void {
    this.result = result;
    this.wire = toWebviewResult(result);
  }

  private async spatialLayersOf(modelPath: string): Promise<string[]> {
    try {
      const active = this.ctx.activeModel();
      const description = active?.uri.fsPath === modelPath
        ? await this.ctx.describeActive()
        : await this.ctx.client.describe(modelPath);
      this.numClasses = description?.numClasses;
      this.names = namesFor(modelPath, description);
      return description ? spatialLayers(description.layers) : [];
    } catch (err) {
      this.ctx.log.warn(`Explain panel: could not list the layers of ${modelPath}: ${(err as Error).message}`);
      return [];
    }
  }

  /** The defaults the engine used when the model has no loupe.json (checked in the model's folder by the host). */
  private async sidecarNote(modelPath: string): Promise<string | undefined> {
    if (await exists(sidecarPathOf(modelPath))) return undefined;
    const hasLabels = await exists(path.join(path.dirname(modelPath), DEFAULT_LABELS_NAME));
    const overridden = preprocessingFor(this.ctx.config(), modelPath, resolveInWorkspace(modelPath)) !== undefined;
    return defaultsNote(modelPath, this.numClasses, hasLabels, overridden);
  }

  /** The class the maps shown explain (the top-1 class when none was asked for). */
  private targetClass(): number | undefined {
    return this.state.classIndex ?? this.result?.maps[0]?.summary.targetClass ?? this.result?.summary.predictions[0]?.index;
  }

  private currentLayer(): string | undefined {
    return this.state.layer ?? this.result?.maps.find((m) => GRADCAM_METHODS.includes(m.summary.method))?.summary.layer;
  }

  private postShow(): void {
    if (!this.wire) return;
    const layer = this.currentLayer();
    this.channel.post({
      type: 'show', result: this.wire, layers: this.layers, state: this.state,
      ...(layer !== undefined ? { layer } : {}), ...(this.preprocessingNote ? { preprocessingNote: this.preprocessingNote } : {}),
      ...this.names,
    });
  }

  private async handle(msg: Exclude<FromWebview, { type: 'ready' }>): Promise<void> {
    switch (msg.type) {
      case 'explainClass': {
        if (this.numClasses !== undefined && msg.classIndex >= this.numClasses) {
          this.ctx.log.warn(`Explain panel: ignored class ${msg.classIndex}: the model has ${this.numClasses} classes`);
          return;
        }
        const req: RunRequest = { methods: this.state.methods, classIndex: msg.classIndex, ...(this.state.layer ? { layer: this.state.layer } : {}) };
        await this.run(req, 'replace', { classIndex: msg.classIndex });
        return;
      }
      case 'setLayer': {
        if (!this.layers.includes(msg.layer)) {
          this.ctx.log.warn(`Explain panel: ignored layer "${msg.layer.slice(0, 80)}": not a spatial layer of the model`);
          return;
        }
        const shown = this.result?.maps.map((m) => m.summary.method) ?? [];
        const methods = GRADCAM_METHODS.filter((m) => shown.includes(m));
        const target = this.targetClass();
        await this.run({
          methods: methods.length ? methods : ['gradcam'],
          layer: msg.layer,
          ...(target !== undefined ? { classIndex: target } : {}),
        }, 'merge', { layer: msg.layer });
        return;
      }
      case 'runOcclusion': {
        const target = this.targetClass();
        await this.run({ methods: ['occlusion'], ...(target !== undefined ? { classIndex: target } : {}) }, 'merge');
        return;
      }
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
        if (await this.ctx.createSidecar({ modelPath: this.state.modelPath })) {
          await this.run({ methods: this.state.methods, ...request(this.state) }, 'replace');
        }
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
    const json = this.result && mapJson(this.result, method);
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
    this.running?.abort();
    if (ExplainPanel.current === this) ExplainPanel.current = undefined;
  }
}

/** The model as the Models view names it, and the layers the Grad-CAM picker offers first. */
function namesFor(modelPath: string, description: ModelDescription | undefined): ShowNames {
  const modelName = modelLabel(vscode.workspace.asRelativePath(modelPath, false));
  return description ? { modelName, featureLayers: featureLayers(description.layers, description.defaultCamLayer) } : { modelName };
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
