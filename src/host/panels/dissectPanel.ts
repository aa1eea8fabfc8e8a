/**
 * The Dissection panel (view type `loupe.dissect`): one per window, reused by "Dissect this layer"
 * and by the Layers view's units and the CodeLens. It shows a result the worker computed or read from
 * its disk cache; opening it for a layer already dissected never recomputes. A reload restores the
 * panel from the small state the webview persists, by asking the worker for the cached result.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError } from '../../engine/errors';
import {
  DEFAULT_DISSECT_UI,
  isDissectPanelState,
  isFromDissectWebview,
  type DissectPanelState,
  type FromDissectWebview,
  type ToDissectWebview,
} from '../../protocol/dissectWebview';
import { describeBadMessage } from '../../protocol/webview';
import type { DissectionSummary } from '../../protocol/types';
import { dissectOptionsFrom } from '../config';
import type { LoupeContext } from '../context';
import { interpretableText } from '../dissection/labels';
import { shortModelName } from '../format';
import { imageRoots, panelTitle, toDissectView } from './dissectData';
import { buildPanelHtml, makeNonce } from './html';

export const DISSECT_VIEW_TYPE = 'loupe.dissect';

export function registerDissectPanel(ctx: LoupeContext): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(DISSECT_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      if (!isDissectPanelState(state)) {
        ctx.log.warn(`Dissection panel: cannot restore from the saved state (${describeBadMessage(state)}); closing it`);
        panel.dispose();
        return;
      }
      const restored = new DissectPanel(ctx, panel, state);
      void restored.restore();
    },
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

/** Resolves a workspace-relative dataset path (the worker has no workspace). */
function resolveInWorkspace(modelPath: string): (p: string) => string {
  return (p) => {
    if (path.isAbsolute(p)) return p;
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(modelPath)) ?? vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, p) : path.resolve(p);
  };
}

/** One dissection in the worker under a cancellable progress notification. */
async function runDissection(ctx: LoupeContext, modelPath: string, layer: string, refresh: boolean, abort: AbortController,
  onError?: (message: string) => void): Promise<DissectionSummary | undefined> {
  const config = ctx.config();
  const options = dissectOptionsFrom(config, layer, resolveInWorkspace(modelPath), { refresh });
  const probe = config.dissection.probe === 'builtin' ? `${config.dissection.probeImages} probe images` : path.basename(config.dissection.probe);
  const started = performance.now();
  try {
    await vscode.workspace.fs.createDirectory(ctx.dissections.cacheDir);
    const summary = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Loupe: dissecting ${layer} (${probe})`,
      cancellable: true,
    }, async (progress, token) => {
      token.onCancellationRequested(() => abort.abort());
      let done = 0;
      return ctx.client.dissect(modelPath, options, {
        signal: abort.signal,
        onProgress: (fraction, message) => {
          const f = Math.max(done, Math.min(1, fraction));
          progress.report({ increment: (f - done) * 100, message });
          done = f;
        },
      });
    });
    ctx.dissections.set(modelPath, summary);
    ctx.log.info(`dissected ${layer} of ${modelPath}: ${interpretableText(summary)} (${summary.probe.name}, ${summary.probe.images} images)`
      + ` ${summary.cached ? 'read from the cache' : `computed in ${Math.round(summary.ms)} ms on ${summary.backend}`};`
      + ` ${Math.round(performance.now() - started)} ms in all`);
    return summary;
  } catch (err) {
    if (err instanceof CancelledError || abort.signal.aborted) {
      ctx.log.info(`dissecting ${layer}: cancelled`);
      return undefined;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error(`dissecting ${layer} of ${modelPath} failed: ${err instanceof Error ? err.stack ?? message : message}`);
    onError?.(message);
    const choice = await vscode.window.showErrorMessage(`Loupe: ${message}`, 'Show Log');
    if (choice === 'Show Log') ctx.log.show();
    return undefined;
  }
}

export class DissectPanel {
  /** The panel every dissection reuses. */
  static current: DissectPanel | undefined;

  private summary: DissectionSummary | undefined;
  private ready = false;
  private busy: string | undefined;
  private lastError: string | undefined;
  private running: AbortController | undefined;
  private roots: string[] = [];
  private readonly disposables: vscode.Disposable[] = [];

  static create(ctx: LoupeContext, state: DissectPanelState): DissectPanel {
    const panel = vscode.window.createWebviewPanel(DISSECT_VIEW_TYPE, panelTitle(state.layer),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, { enableScripts: true });
    return new DissectPanel(ctx, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, readonly panel: vscode.WebviewPanel, public state: DissectPanelState) {
    DissectPanel.current = this;
    const { webview } = panel;
    this.setRoots([]);
    panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'loupe.svg');
    panel.title = panelTitle(state.layer);
    webview.html = buildPanelHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'webview', 'dissect.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(ctx.extensionUri, 'media', 'dissect.css')).toString(),
      nonce: makeNonce(),
      title: panelTitle(state.layer),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((msg: unknown) => {
        if (!isFromDissectWebview(msg)) {
          ctx.log.warn(`Dissection panel: ignored a malformed ${describeBadMessage(msg)}`);
          return;
        }
        void this.handle(msg).catch((err: Error) => {
          ctx.log.error(`Dissection panel: handling "${msg.type}" failed: ${err.stack ?? err.message}`);
          void vscode.window.showErrorMessage(`Loupe: ${err.message}`);
        });
      }),
      panel.onDidChangeViewState(() => { if (!panel.visible) this.ready = false; }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Shows `summary` for `state` (the webview gets it now if its script runs, else when it says `ready`). */
  show(summary: DissectionSummary, state: DissectPanelState): void {
    this.state = state;
    this.summary = summary;
    this.lastError = undefined;
    this.panel.title = panelTitle(summary.layer);
    if (!this.roots.includes(summary.dir) && imageRoots(this.ctx.dissections.cacheDir.fsPath, [summary]).length > 1) {
      this.setRoots([summary.dir]);
    }
    this.postShow();
  }

  /** After a window reload: the cached result of the persisted layer, or a message saying there is none. */
  async restore(): Promise<void> {
    const { modelPath, layer } = this.state;
    this.setBusy('Reading the cached dissection…');
    try {
      const summary = this.ctx.dissections.get(modelPath, layer)
        ?? (await this.ctx.dissections.load(modelPath)).find((s) => s.layer === layer);
      this.setBusy(undefined);
      if (summary) this.show(summary, this.state);
      else this.fail(`No cached dissection of ${layer} for the current weights of ${path.basename(path.dirname(modelPath))}: Recompute to dissect it again.`);
    } catch (err) {
      this.setBusy(undefined);
      this.fail((err as Error).message);
    }
  }

  cancel(): void {
    this.running?.abort();
  }

  private async recompute(): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.setBusy(`Dissecting ${this.state.layer}…`);
    const summary = await runDissection(this.ctx, this.state.modelPath, this.state.layer, true, controller, (m) => this.fail(m));
    if (this.running !== controller) return;
    this.running = undefined;
    this.setBusy(undefined);
    if (summary) this.show(summary, this.state);
  }

  private setRoots(extra: string[]): void {
    this.roots = [this.ctx.dissections.cacheDir.fsPath, ...extra];
    this.panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.ctx.extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(this.ctx.extensionUri, 'media'),
        ...this.roots.map((r) => vscode.Uri.file(r)),
      ],
    };
  }

  private setBusy(message: string | undefined): void {
    this.busy = message;
    this.post(message ? { type: 'busy', busy: true, message } : { type: 'busy', busy: false });
  }

  private fail(message: string): void {
    this.lastError = message;
    this.post({ type: 'error', message });
  }

  private postShow(): void {
    if (!this.summary) return;
    const webview = this.panel.webview;
    const model = this.ctx.activeModel();
    const modelName = (model?.uri.fsPath === this.state.modelPath ? model.description?.name : undefined)
      ?? shortModelName(vscode.workspace.asRelativePath(this.state.modelPath, false));
    const view = toDissectView(this.summary, modelName, (file) => webview.asWebviewUri(vscode.Uri.file(file)).toString());
    this.post({ type: 'show', view, state: this.state });
  }

  private post(message: ToDissectWebview): void {
    if (!this.ready) return; // `ready` triggers a full post of the current state
    void this.panel.webview.postMessage(message).then(undefined, (err: Error) => this.ctx.log.warn(`Dissection panel: postMessage failed: ${err.message}`));
  }

  private async handle(msg: FromDissectWebview): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.postShow();
        if (this.busy) this.post({ type: 'busy', busy: true, message: this.busy });
        else if (this.lastError) this.post({ type: 'error', message: this.lastError });
        return;
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
    }
  }

  private dispose(): void {
    this.running?.abort();
    if (DissectPanel.current === this) DissectPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
