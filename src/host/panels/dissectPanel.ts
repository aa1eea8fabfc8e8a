/**
 * The Dissection panel (view type `loupe.dissect`): one per window, reused by "Dissect this layer"
 * and by the Layers view's units and the CodeLens. It shows a result the worker computed or read from
 * its disk cache; opening it for a layer already dissected never recomputes. A reload restores the
 * panel from the small state the webview persists, by asking the worker for the cached result.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  DEFAULT_DISSECT_UI,
  isDissectPanelState,
  isFromDissectWebview,
  type DissectPanelState,
  type FromDissectWebview,
  type ToDissectWebview,
} from '../../protocol/dissectWebview';
import type { DissectionSummary } from '../../protocol/types';
import { dissectOptionsFrom, preprocessingFor } from '../config';
import { resolveInWorkspace } from '../workspacePaths';
import type { LoupeContext } from '../context';
import { interpretableText } from '../dissection/labels';
import { modelLabel, shortModelName } from '../format';
import { displayLayerName } from '../../protocol/layerNames';
import { imageRoots, panelTitle, toDissectView } from './dissectData';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, withWorkerProgress } from './workerTask';

export const DISSECT_VIEW_TYPE = 'loupe.dissect';

export function registerDissectPanel(ctx: LoupeContext): vscode.Disposable {
  return registerPanelSerializer(ctx, DISSECT_VIEW_TYPE, 'Dissection panel', isDissectPanelState, (panel, state) => {
    void new DissectPanel(ctx, panel, state).restore();
  });
}

/**
 * Dissects `layer` of the model (the worker answers from its cache when it can, unless `refresh`),
 * then shows the result in the panel. Resolves undefined when it failed (after telling the user) or
 * was cancelled.
 */
export async function dissectLayer(ctx: LoupeContext, modelPath: string, layer: string,
  options: { refresh?: boolean; unit?: number } = {}): Promise<DissectionSummary | undefined> {
  DissectPanel.current?.cancel();
  const summary = await runDissection(ctx, modelPath, layer, options.refresh ?? false, new AbortController());
  if (!summary) return undefined;
  await showDissection(ctx, modelPath, summary, options.unit);
  return summary;
}

/**
 * Opens the panel on `layer`'s dissection if one is known for the model's current weights (in this
 * window, else in the worker's cache); offers to compute it when there is none.
 */
export async function openDissection(ctx: LoupeContext, modelPath: string, layer: string, unit?: number): Promise<void> {
  let summary = ctx.dissections.get(modelPath, layer);
  if (!summary) summary = (await ctx.dissections.load(modelPath)).find((s) => s.layer === layer);
  if (summary) {
    await showDissection(ctx, modelPath, summary, unit);
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `Loupe: layer "${layer}" has no dissection for the model's current weights yet.`, 'Dissect This Layer');
  if (choice) await dissectLayer(ctx, modelPath, layer, unit !== undefined ? { unit } : {});
}

async function showDissection(ctx: LoupeContext, modelPath: string, summary: DissectionSummary, unit: number | undefined): Promise<void> {
  const previous = DissectPanel.current?.state;
  const sameLayer = previous?.modelPath === modelPath && previous.layer === summary.layer;
  const ui = { ...(previous?.ui ?? DEFAULT_DISSECT_UI) };
  // A unit asked for (tree, lens) opens its detail; a fresh layer starts without one.
  if (unit !== undefined) ui.unit = unit;
  else if (!sameLayer) delete ui.unit;
  if (!sameLayer && previous && !summary.probe.categories.includes(ui.category)) ui.category = '';
  const state: DissectPanelState = { modelPath, layer: summary.layer, ui };
  const panel = DissectPanel.current ?? DissectPanel.create(ctx, state);
  panel.panel.reveal(undefined, false);
  panel.show(summary, state);
}

/** One dissection in the worker under a cancellable progress notification. */
async function runDissection(ctx: LoupeContext, modelPath: string, layer: string, refresh: boolean, abort: AbortController,
  onError?: (message: string) => void): Promise<DissectionSummary | undefined> {
  const config = ctx.config();
  const resolve = resolveInWorkspace(modelPath);
  const preprocessing = preprocessingFor(config, modelPath, resolve);
  const options = { ...dissectOptionsFrom(config, layer, resolve, { refresh }), ...(preprocessing ? { preprocessing } : {}) };
  const probe = config.dissection.probe === 'builtin' ? `${config.dissection.probeImages} probe images` : path.basename(config.dissection.probe);
  const started = performance.now();
  const names = { name: `dissecting ${layer}`, failed: `dissecting ${layer} of ${modelPath}` };
  return settleWorkerTask(ctx, names, abort, async () => {
    await vscode.workspace.fs.createDirectory(ctx.dissections.cacheDir);
    const summary = await withWorkerProgress(`Loupe: dissecting ${displayLayerName(layer)} of ${modelLabel(vscode.workspace.asRelativePath(modelPath, false))} (${probe})`, abort,
      (onProgress) => ctx.client.dissect(modelPath, options, { signal: abort.signal, onProgress }));
    ctx.dissections.set(modelPath, summary);
    ctx.log.info(`dissected ${layer} of ${modelPath}: ${interpretableText(summary)} (${summary.probe.name}, ${summary.probe.images} images)`
      + ` ${summary.cached ? 'read from the cache' : `computed in ${Math.round(summary.ms)} ms on ${summary.backend}`};`
      + ` ${Math.round(performance.now() - started)} ms in all`);
    return summary;
  }, onError);
}

export class DissectPanel {
  /** The panel every dissection reuses. */
  static current: DissectPanel | undefined;

  private summary: DissectionSummary | undefined;
  private running: AbortController | undefined;
  private roots: string[] = [];
  private readonly channel: PanelChannel<ToDissectWebview, FromDissectWebview>;

  static create(ctx: LoupeContext, state: DissectPanelState): DissectPanel {
    const panel = vscode.window.createWebviewPanel(DISSECT_VIEW_TYPE, panelTitle(state.layer),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, { enableScripts: true });
    return new DissectPanel(ctx, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, readonly panel: vscode.WebviewPanel, public state: DissectPanelState) {
    DissectPanel.current = this;
    this.setRoots([]);
    this.channel = new PanelChannel<ToDissectWebview, FromDissectWebview>(ctx, panel, {
      name: 'Dissection panel',
      script: 'dissect.js',
      style: 'dissect.css',
      title: panelTitle(state.layer),
      accepts: isFromDissectWebview,
      onReady: () => this.postShow(),
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void vscode.window.showErrorMessage(`Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
    // feature visualisation: a new picture shows in the cards at once
    const pictures = ctx.featureVis?.onDidChange(() => this.postShow());
    if (pictures) panel.onDidDispose(() => pictures.dispose());
  }

  /** Shows `summary` for `state` (the webview gets it now if its script runs, else when it says `ready`). */
  show(summary: DissectionSummary, state: DissectPanelState): void {
    this.state = state;
    this.summary = summary;
    this.channel.clearError();
    this.panel.title = panelTitle(summary.layer);
    if (!this.roots.includes(summary.dir) && imageRoots(this.ctx.dissections.cacheDir.fsPath, [summary]).length > 1) {
      this.setRoots([summary.dir]);
    }
    this.postShow();
  }

  /** After a window reload: the cached result of the persisted layer, or a message saying there is none. */
  async restore(): Promise<void> {
    const { modelPath, layer } = this.state;
    this.channel.setBusy('Reading the cached dissection…');
    try {
      const summary = this.ctx.dissections.get(modelPath, layer)
        ?? (await this.ctx.dissections.load(modelPath)).find((s) => s.layer === layer);
      this.channel.setBusy(undefined);
      if (summary) this.show(summary, this.state);
      else this.channel.fail(`No cached dissection of ${layer} for the current weights of ${path.basename(path.dirname(modelPath))}: Recompute to dissect it again.`);
    } catch (err) {
      this.channel.setBusy(undefined);
      this.channel.fail((err as Error).message);
    }
  }

  cancel(): void {
    this.running?.abort();
  }

  private async recompute(): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.channel.setBusy(`Dissecting ${this.state.layer}…`);
    const summary = await runDissection(this.ctx, this.state.modelPath, this.state.layer, true, controller, (m) => this.channel.fail(m));
    if (this.running !== controller) return;
    this.running = undefined;
    this.channel.setBusy(undefined);
    if (summary) this.show(summary, this.state);
  }

  private setRoots(extra: string[]): void {
    this.roots = [this.ctx.dissections.cacheDir.fsPath, ...extra];
    this.panel.webview.options = panelWebviewOptions(this.ctx.extensionUri, this.roots);
  }

  private postShow(): void {
    if (!this.summary) return;
    const webview = this.panel.webview;
    const model = this.ctx.activeModel();
    const modelName = (model?.uri.fsPath === this.state.modelPath ? model.description?.name : undefined)
      ?? shortModelName(vscode.workspace.asRelativePath(this.state.modelPath, false));
    const view = toDissectView(this.summary, modelName, (file) => webview.asWebviewUri(vscode.Uri.file(file)).toString());
    // feature visualisation: each unit's picture, once rendered
    const pictures = this.ctx.featureVis;
    if (pictures) {
      view.pictures = this.summary.units.map((u) => {
        const file = pictures.icon(this.state.modelPath, this.state.layer, u.unit);
        return file ? webview.asWebviewUri(vscode.Uri.file(file)).toString() : '';
      });
    }
    this.channel.post({ type: 'show', view, state: this.state });
  }

  private async handle(msg: Exclude<FromDissectWebview, { type: 'ready' }>): Promise<void> {
    switch (msg.type) {
      case 'openLayer':
        if (msg.layer !== this.state.layer) {
          this.ctx.log.warn(`Dissection panel: ignored a link to "${msg.layer.slice(0, 80)}": the panel shows ${this.state.layer}`);
          return;
        }
        await this.ctx.codeLinks.open(msg.layer);
        return;
      case 'recompute':
        await this.recompute();
        return;
      case 'ui':
        this.state = { ...this.state, ui: msg.ui };
        return;
      case 'visualizeUnit':
        if (!this.summary?.units.some((u) => u.unit === msg.unit)) return;
        await this.ctx.featureVis?.visualize(this.state.modelPath, this.state.layer, msg.unit);
        return;
    }
  }

  private dispose(): void {
    this.running?.abort();
    if (DissectPanel.current === this) DissectPanel.current = undefined;
  }
}
