/**
 * The TCAV panel (view type `loupe.tcav`): one per window, showing a result the worker computed or read
 * from its disk cache. A reload restores it from the state the webview persists (model + cache key) by
 * asking the worker for the cached result. Exports copy the result's own files (tcav.csv, tcav.json,
 * tcav.png, written by the engine beside result.json) where the user chooses.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { tcavRequestOf, type TcavOptions, type TcavResult } from '../../protocol/tcav';
import { isFromTcavWebview, isTcavPanelState, type FromTcavWebview, type TcavPanelState, type ToTcavWebview } from '../../protocol/tcavWebview';
import { preprocessingFor } from '../config';
import type { LoupeContext } from '../context';
import { resolveInWorkspace } from '../workspacePaths';
import { shortModelName } from '../format';
import type { TcavStore } from '../tcav/store';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, withWorkerProgress } from './workerTask';

export const TCAV_VIEW_TYPE = 'loupe.tcav';

export function registerTcavPanel(ctx: LoupeContext, store: TcavStore): vscode.Disposable {
  return registerPanelSerializer(ctx, TCAV_VIEW_TYPE, 'TCAV panel', isTcavPanelState, (panel, state) => {
    void new TcavPanel(ctx, store, panel, state).restore();
  });
}

function panelTitle(result: Pick<TcavResult, 'classLabel'> | undefined): string {
  return result ? `TCAV: ${result.classLabel}` : 'TCAV';
}

/** One TCAV run in the worker under a cancellable progress notification; undefined when cancelled or failed (the user was told). */
export async function runTcav(ctx: LoupeContext, store: TcavStore, modelPath: string, request: TcavOptions, abort: AbortController,
  onError?: (message: string) => void): Promise<TcavResult | undefined> {
  const started = performance.now();
  // The `loupe.preprocessing` override, as for explanations and dissections (part of the cache key).
  const preprocessing = preprocessingFor(ctx.config(), modelPath, resolveInWorkspace(modelPath));
  const options = preprocessing ? { ...request, preprocessing } : request;
  const what = `testing ${options.concepts.length} concept${options.concepts.length === 1 ? '' : 's'} at ${options.layers.length} layer${options.layers.length === 1 ? '' : 's'}`;
  return settleWorkerTask(ctx, { name: what, failed: `${what} of ${modelPath}` }, abort, async () => {
    const result = await withWorkerProgress(`Loupe: TCAV, ${what}`, abort,
      (onProgress) => ctx.client.tcav(modelPath, options, { signal: abort.signal, onProgress }));
    store.set(modelPath, result);
    ctx.log.info(`TCAV of class ${result.classIndex} "${result.classLabel}" at ${result.layers.map((l) => l.layer).join(', ')} of ${modelPath}: `
      + `${result.cached ? 'read from the cache' : `computed in ${Math.round(result.ms)} ms on ${result.backend}`}; ${Math.round(performance.now() - started)} ms in all`);
    return result;
  }, onError);
}

/** Shows `result` in the panel (created if none). */
export function showTcav(ctx: LoupeContext, store: TcavStore, modelPath: string, result: TcavResult): void {
  const state: TcavPanelState = { modelPath, key: result.key };
  const panel = TcavPanel.current ?? TcavPanel.create(ctx, store, state);
  panel.panel.reveal(undefined, false);
  panel.show(result, state);
}

/** Opens the panel on a known result (this window's, else the worker's cache). */
export async function openTcav(ctx: LoupeContext, store: TcavStore, modelPath: string, key: string): Promise<void> {
  const result = store.get(modelPath, key) ?? (await store.load(modelPath)).find((r) => r.key === key);
  if (!result) {
    void vscode.window.showInformationMessage('Loupe: that TCAV result is no longer cached for the model\'s current weights: run "Test Concepts (TCAV)" again.');
    return;
  }
  showTcav(ctx, store, modelPath, result);
}

export class TcavPanel {
  static current: TcavPanel | undefined;

  private result: TcavResult | undefined;
  private running: AbortController | undefined;
  private readonly channel: PanelChannel<ToTcavWebview, FromTcavWebview>;

  static create(ctx: LoupeContext, store: TcavStore, state: TcavPanelState): TcavPanel {
    const panel = vscode.window.createWebviewPanel(TCAV_VIEW_TYPE, panelTitle(undefined),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, panelWebviewOptions(ctx.extensionUri));
    return new TcavPanel(ctx, store, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, private readonly store: TcavStore, readonly panel: vscode.WebviewPanel, public state: TcavPanelState) {
    TcavPanel.current = this;
    panel.webview.options = panelWebviewOptions(ctx.extensionUri);
    this.channel = new PanelChannel<ToTcavWebview, FromTcavWebview>(ctx, panel, {
      name: 'TCAV panel',
      script: 'tcav.js',
      style: 'tcav.css',
      title: panelTitle(undefined),
      accepts: isFromTcavWebview,
      onReady: () => this.postShow(),
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void vscode.window.showErrorMessage(`Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
  }

  show(result: TcavResult, state: TcavPanelState): void {
    this.state = state;
    this.result = result;
    this.channel.clearError();
    this.panel.title = panelTitle(result);
    this.postShow();
  }

  /** After a window reload: the cached result of the persisted key, or a message saying there is none. */
  async restore(): Promise<void> {
    const { modelPath, key } = this.state;
    this.channel.setBusy('Reading the cached TCAV result…');
    try {
      const result = this.store.get(modelPath, key) ?? (await this.store.load(modelPath)).find((r) => r.key === key);
      this.channel.setBusy(undefined);
      if (result) this.show(result, this.state);
      else this.channel.fail(`No cached TCAV result for the current weights of ${path.basename(path.dirname(modelPath))}: run "Loupe: Test Concepts (TCAV)" again.`);
    } catch (err) {
      this.channel.setBusy(undefined);
      this.channel.fail((err as Error).message);
    }
  }

  private postShow(): void {
    if (!this.result) return;
    const model = this.ctx.activeModel();
    const modelName = (model?.uri.fsPath === this.state.modelPath ? model.description?.name : undefined)
      ?? shortModelName(vscode.workspace.asRelativePath(this.state.modelPath, false));
    this.channel.post({ type: 'show', view: { result: this.result, modelName }, state: this.state });
  }

  private async handle(msg: Exclude<FromTcavWebview, { type: 'ready' }>): Promise<void> {
    const result = this.result;
    if (!result) return;
    switch (msg.type) {
      case 'openLayer':
        if (!result.layers.some((l) => l.layer === msg.layer)) {
          this.ctx.log.warn(`TCAV panel: ignored a link to "${msg.layer.slice(0, 80)}": not a layer of the result shown`);
          return;
        }
        await this.ctx.codeLinks.open(msg.layer);
        return;
      case 'export': {
        const name = `tcav.${msg.format}`;
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
        const target = await vscode.window.showSaveDialog({
          title: `Loupe: export ${name}`,
          ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `tcav-${result.classLabel.replace(/[^\w.-]+/g, '_')}.${msg.format}`) } : {}),
          filters: { [msg.format.toUpperCase()]: [msg.format] },
        });
        if (!target) return;
        await vscode.workspace.fs.copy(vscode.Uri.file(path.join(result.dir, name)), target, { overwrite: true });
        this.ctx.log.info(`TCAV panel: exported ${name} to ${target.fsPath}`);
        return;
      }
      case 'recompute':
        await this.recompute(result);
        return;
    }
  }

  private async recompute(result: TcavResult): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.channel.setBusy('Testing the concepts again…');
    const options = tcavRequestOf(result);
    const fresh = await runTcav(this.ctx, this.store, this.state.modelPath, { ...options, refresh: true }, controller, (m) => this.channel.fail(m));
    if (this.running !== controller) return;
    this.running = undefined;
    this.channel.setBusy(undefined);
    if (fresh) this.show(fresh, { modelPath: this.state.modelPath, key: fresh.key });
  }

  private dispose(): void {
    this.running?.abort();
    if (TcavPanel.current === this) TcavPanel.current = undefined;
  }
}
