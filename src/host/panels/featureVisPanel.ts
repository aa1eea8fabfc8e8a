/**
 * The Feature Visualization panel (view type `loupe.featureVis`): one per window, reused by "Visualize Unit"
 * from the Layers view, the Dissection panel and the command palette. It shows the unit's picture, the
 * previews while it renders, the objective over the steps and, when the layer was dissected, the unit's top
 * probe images beside it. A reload restores it from the worker's cache.
 */
import * as vscode from 'vscode';
import type { FeatureVisOptions, FeatureVisSummary } from '../../protocol/featureVis';
import {
  isFeatureVisPanelState, isFromFeatureVisWebview, type FeatureVisPanelState, type FeatureVisView, type FromFeatureVisWebview,
  type ToFeatureVisWebview,
} from '../../protocol/featureVisWebview';
import { preprocessingFor } from '../config';
import type { LoupeContext } from '../context';
import { stripPath } from './dissectData';
import { imageFile } from '../featureVis/pictures';
import type { FeatureVisStore } from '../featureVis/store';
import { shortModelName } from '../format';
import { displayLayerName } from '../../protocol/layerNames';
import { resolveInWorkspace } from '../workspacePaths';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, withWorkerProgress } from './workerTask';

export const FEATURE_VIS_VIEW_TYPE = 'loupe.featureVis';

export function registerFeatureVisPanel(ctx: LoupeContext, store: FeatureVisStore): vscode.Disposable {
  return registerPanelSerializer(ctx, FEATURE_VIS_VIEW_TYPE, 'Feature Visualization panel', isFeatureVisPanelState, (panel, state) => {
    void new FeatureVisPanel(ctx, store, panel, state).restore();
  });
}

function title(state: Pick<FeatureVisPanelState, 'layer' | 'unit'>): string {
  return `Feature Vis: ${state.layer} · ${state.unit}`;
}

/** A unit's default picture: Lucid's channel objective with its defaults (steps from the setting). */
function unitOptions(ctx: LoupeContext, modelPath: string, layer: string, unit: number, refresh: boolean): FeatureVisOptions {
  const config = ctx.config();
  const preprocessing = preprocessingFor(config, modelPath, resolveInWorkspace(modelPath));
  return {
    objective: [{ kind: 'channel', layer, unit }],
    params: { steps: config.featureVis.steps },
    ...(refresh ? { refresh: true } : {}),
    ...(preprocessing ? { preprocessing } : {}),
  };
}

/**
 * Renders (or reads from the cache) the unit's picture and shows it in the panel, with a cancellable
 * progress notification and previews in the panel meanwhile. Resolves undefined when cancelled or failed.
 */
export async function visualizeUnit(ctx: LoupeContext, store: FeatureVisStore, modelPath: string, layer: string, unit: number,
  refresh = false): Promise<FeatureVisSummary | undefined> {
  const state: FeatureVisPanelState = { modelPath, layer, unit };
  const panel = FeatureVisPanel.current ?? FeatureVisPanel.create(ctx, store, state);
  panel.panel.reveal(undefined, true);
  return panel.run(state, refresh);
}

export class FeatureVisPanel {
  static current: FeatureVisPanel | undefined;
  private summary: FeatureVisSummary | undefined;
  private running: AbortController | undefined;
  private readonly channel: PanelChannel<ToFeatureVisWebview, FromFeatureVisWebview>;

  static create(ctx: LoupeContext, store: FeatureVisStore, state: FeatureVisPanelState): FeatureVisPanel {
    const panel = vscode.window.createWebviewPanel(FEATURE_VIS_VIEW_TYPE, title(state),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { enableScripts: true });
    return new FeatureVisPanel(ctx, store, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, private readonly store: FeatureVisStore, readonly panel: vscode.WebviewPanel,
    public state: FeatureVisPanelState) {
    FeatureVisPanel.current = this;
    // Pictures live in the worker's cache folder (its featurevis/ sub-folder); strips in the dissections beside them.
    panel.webview.options = panelWebviewOptions(ctx.extensionUri, [ctx.dissections.cacheDir.fsPath]);
    this.channel = new PanelChannel<ToFeatureVisWebview, FromFeatureVisWebview>(ctx, panel, {
      name: 'Feature Visualization panel',
      script: 'featureVis.js',
      style: 'featureVis.css',
      title: title(state),
      accepts: isFromFeatureVisWebview,
      onReady: () => this.postShow(),
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void vscode.window.showErrorMessage(`Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
  }

  async run(state: FeatureVisPanelState, refresh: boolean): Promise<FeatureVisSummary | undefined> {
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    this.state = state;
    this.summary = undefined;
    this.panel.title = title(state);
    const options = unitOptions(this.ctx, state.modelPath, state.layer, state.unit, refresh);
    this.channel.clearError();
    this.channel.post({ type: 'start', state, steps: options.params?.steps ?? 0 });
    this.channel.setBusy(`Visualizing unit ${state.unit} of ${state.layer}…`);
    const names = { name: `visualizing unit ${state.unit} of ${state.layer}`, failed: `visualizing unit ${state.unit} of ${state.layer} in ${state.modelPath}` };
    const summary = await settleWorkerTask(this.ctx, names, abort, async () =>
      withWorkerProgress(`Loupe: visualizing unit ${state.unit} of ${displayLayerName(state.layer)}`, abort, (onProgress) =>
        this.ctx.client.visualize(state.modelPath, options, {
          signal: abort.signal, onProgress,
          onPreview: (p) => this.channel.post({ type: 'preview', preview: { ...p, png: `data:image/png;base64,${p.png}` } }),
        })), (m) => this.channel.fail(m));
    if (this.running !== abort) return summary;
    this.running = undefined;
    this.channel.setBusy(undefined);
    if (!summary) {
      if (abort.signal.aborted) this.channel.fail(`Cancelled: unit ${state.unit} of ${state.layer} has no picture yet.`);
      return undefined;
    }
    this.ctx.log.info(`visualized unit ${state.unit} of ${state.layer}: ${summary.cached ? 'read from the cache' : `${Math.round(summary.ms)} ms on ${summary.backend}`}`);
    this.store.set(state.modelPath, summary);
    this.show(summary);
    return summary;
  }

  show(summary: FeatureVisSummary): void {
    this.summary = summary;
    this.channel.clearError();
    this.postShow();
  }

  async restore(): Promise<void> {
    const { modelPath, layer, unit } = this.state;
    this.channel.setBusy('Reading the cached picture…');
    try {
      let summary = this.store.get(modelPath, layer, unit);
      if (!summary) {
        await this.store.load(modelPath);
        summary = this.store.get(modelPath, layer, unit);
      }
      this.channel.setBusy(undefined);
      if (summary) this.show(summary);
      else this.channel.fail(`No cached picture of unit ${unit} of ${layer} for the model's current weights: Recompute to render it.`);
    } catch (err) {
      this.channel.setBusy(undefined);
      this.channel.fail((err as Error).message);
    }
  }

  private postShow(): void {
    const summary = this.summary;
    if (!summary) return;
    const file = imageFile(summary);
    if (!file) return;
    const webview = this.panel.webview;
    const uri = (f: string) => webview.asWebviewUri(vscode.Uri.file(f)).toString();
    const model = this.ctx.activeModel();
    const modelName = (model?.uri.fsPath === this.state.modelPath ? model.description?.name : undefined)
      ?? shortModelName(vscode.workspace.asRelativePath(this.state.modelPath, false));
    const view: FeatureVisView = { summary, image: uri(file), modelName };
    const dissection = this.ctx.dissections.get(this.state.modelPath, this.state.layer);
    const unit = dissection?.units.find((u) => u.unit === this.state.unit);
    const strip = dissection && unit ? stripPath(dissection, unit.strip) : undefined;
    if (unit && strip) {
      view.dissection = { strip: uri(strip), label: unit.label, category: unit.category, iou: unit.iou, interpretable: unit.interpretable };
    }
    this.channel.post({ type: 'show', view, state: this.state });
  }

  private async handle(msg: Exclude<FromFeatureVisWebview, { type: 'ready' }>): Promise<void> {
    switch (msg.type) {
      case 'openLayer':
        if (msg.layer !== this.state.layer) {
          this.ctx.log.warn(`Feature Visualization panel: ignored a link to "${msg.layer.slice(0, 80)}": the panel shows ${this.state.layer}`);
          return;
        }
        await this.ctx.codeLinks.open(msg.layer);
        return;
      case 'recompute':
        await this.run(this.state, true);
        return;
    }
  }

  private dispose(): void {
    this.running?.abort();
    if (FeatureVisPanel.current === this) FeatureVisPanel.current = undefined;
  }
}
