/**
 * The Building Blocks panel (view type `loupe.blocks`): one image at one layer — semantic dictionary, spatial
 * and channel attribution, neuron groups, and the activation grid on demand. One per window, reused. A reload
 * recomputes from the persisted request (the blocks of one image take seconds; they are not cached on disk).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BlocksResult } from '../../protocol/blocks';
import {
  isBlocksPanelState, isFromBlocksWebview, type BlocksPanelState, type BlocksView, type FromBlocksWebview,
  type ToBlocksWebview,
} from '../../protocol/blocksWebview';
import { preprocessingFor } from '../config';
import type { LoupeContext } from '../context';
import { imageFile } from '../featureVis/pictures';
import type { FeatureVisStore } from '../featureVis/store';
import { isSpatial, shortModelName } from '../format';
import { resolveInWorkspace } from '../workspacePaths';
import { stripPath } from './dissectData';
import { PanelChannel, panelWebviewOptions, registerPanelSerializer } from './panelChannel';
import { settleWorkerTask, showErrorWithLog, withWorkerProgress } from './workerTask';

export const BLOCKS_VIEW_TYPE = 'loupe.blocks';
const DEFAULT_GROUPS = 6;
/** Lucid's NeuronGroups icons: 80 px images of the groups' directions, optimised together. */
const GROUP_PICTURE_SIZE = 80;

export function registerBlocksPanel(ctx: LoupeContext, store: FeatureVisStore): vscode.Disposable {
  return registerPanelSerializer(ctx, BLOCKS_VIEW_TYPE, 'Building Blocks panel', isBlocksPanelState, (panel, state) => {
    void new BlocksPanel(ctx, store, panel, state).run();
  });
}

function title(state: BlocksPanelState): string {
  return `Blocks: ${path.basename(state.imagePath)} · ${state.request.layer}`;
}

export async function openBuildingBlocks(ctx: LoupeContext, store: FeatureVisStore, modelPath: string, imagePath: string, layer: string): Promise<void> {
  const state: BlocksPanelState = { modelPath, imagePath, request: { layer, groups: DEFAULT_GROUPS } };
  const panel = BlocksPanel.current ?? BlocksPanel.create(ctx, store, state);
  panel.state = state;
  panel.panel.reveal(undefined, false);
  await panel.run();
}

export class BlocksPanel {
  static current: BlocksPanel | undefined;
  private result: BlocksResult | undefined;
  private groupPictures: string | undefined;
  private running: AbortController | undefined;
  private readonly channel: PanelChannel<ToBlocksWebview, FromBlocksWebview>;

  static create(ctx: LoupeContext, store: FeatureVisStore, state: BlocksPanelState): BlocksPanel {
    const panel = vscode.window.createWebviewPanel(BLOCKS_VIEW_TYPE, title(state), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true });
    return new BlocksPanel(ctx, store, panel, state);
  }

  constructor(private readonly ctx: LoupeContext, private readonly store: FeatureVisStore, readonly panel: vscode.WebviewPanel,
    public state: BlocksPanelState) {
    BlocksPanel.current = this;
    panel.webview.options = panelWebviewOptions(ctx.extensionUri, [ctx.dissections.cacheDir.fsPath]);
    this.channel = new PanelChannel<ToBlocksWebview, FromBlocksWebview>(ctx, panel, {
      name: 'Building Blocks panel',
      script: 'blocks.js',
      style: 'blocks.css',
      title: title(state),
      accepts: isFromBlocksWebview,
      onReady: () => this.postShow(),
      onMessage: (msg) => this.handle(msg),
      onHandlerError: (err) => void vscode.window.showErrorMessage(`Loupe: ${err.message}`),
      onDispose: () => this.dispose(),
    });
    const pictures = store.onDidChange(() => this.postShow());
    panel.onDidDispose(() => pictures.dispose());
  }

  /** Computes the blocks for the current state (cancelling a run in progress). */
  async run(): Promise<void> {
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const { modelPath, imagePath, request } = this.state;
    this.panel.title = title(this.state);
    this.channel.setBusy(`Computing the building blocks of ${path.basename(imagePath)} at ${request.layer}…`);
    const preprocessing = preprocessingFor(this.ctx.config(), modelPath, resolveInWorkspace(modelPath));
    const options = {
      layer: request.layer, groups: request.groups,
      ...(request.classIndex !== undefined ? { classIndex: request.classIndex } : {}),
      ...(request.versusClass !== undefined ? { versusClass: request.versusClass } : {}),
      ...(request.toLayer !== undefined ? { toLayer: request.toLayer } : {}),
      ...(preprocessing ? { preprocessing } : {}),
    };
    const names = { name: `building blocks of ${path.basename(imagePath)} at ${request.layer}` };
    const result = await settleWorkerTask(this.ctx, names, abort, async () =>
      withWorkerProgress(`Loupe: building blocks of ${path.basename(imagePath)} at ${request.layer}`, abort,
        (onProgress) => this.ctx.client.blocks(modelPath, imagePath, options, { signal: abort.signal, onProgress })), (m) => this.channel.fail(m));
    if (this.running !== abort) return;
    this.running = undefined;
    this.channel.setBusy(undefined);
    if (!result) return;
    this.result = result;
    this.groupPictures = undefined;
    this.state = { ...this.state, request: { ...request, classIndex: result.classIndex } };
    this.channel.clearError();
    this.postShow();
  }

  private postShow(): void {
    const result = this.result;
    if (!result) return;
    const webview = this.panel.webview;
    const uri = (file: string) => webview.asWebviewUri(vscode.Uri.file(file)).toString();
    const { modelPath, imagePath } = this.state;
    const description = this.ctx.activeModel()?.uri.fsPath === modelPath ? this.ctx.activeModel()?.description : undefined;
    const channels = result.layerShape[2];
    const dissection = this.ctx.dissections.get(modelPath, result.layer);
    const view: BlocksView = {
      result,
      modelName: description?.name ?? shortModelName(vscode.workspace.asRelativePath(modelPath, false)),
      imageName: vscode.workspace.asRelativePath(imagePath, false),
      layers: description ? description.layers.filter((l) => isSpatial(l) && l.className !== 'InputLayer').map((l) => l.name) : [result.layer],
      classes: description?.labels ?? result.predictions.map((p) => p.label),
      pictures: Array.from({ length: channels }, (_, c) => {
        const file = this.store.icon(modelPath, result.layer, c);
        return file ? uri(file) : '';
      }),
      probes: Array.from({ length: channels }, (_, c) => {
        const unit = dissection?.units.find((u) => u.unit === c);
        const file = dissection && unit ? stripPath(dissection, unit.strip) : undefined;
        return file ? uri(file) : '';
      }),
      ...(this.groupPictures ? { groupPictures: this.groupPictures } : {}),
    };
    this.channel.post({ type: 'show', view, state: this.state });
  }

  private async handle(msg: Exclude<FromBlocksWebview, { type: 'ready' }>): Promise<void> {
    const result = this.result;
    switch (msg.type) {
      case 'openLayer': {
        const known = [this.state.request.layer, this.state.request.toLayer];
        if (!known.includes(msg.layer)) {
          this.ctx.log.warn(`Building Blocks panel: ignored a link to "${msg.layer.slice(0, 80)}": not a layer the panel shows`);
          return;
        }
        await this.ctx.codeLinks.open(msg.layer);
        return;
      }
      case 'rerun':
        this.state = { ...this.state, request: msg.request };
        await this.run();
        return;
      case 'visualizeUnit':
        if (!result || msg.unit >= result.layerShape[2]) return;
        await this.ctx.featureVis?.visualize(this.state.modelPath, result.layer, msg.unit);
        return;
      case 'visualizeGroups':
        if (result) await this.visualizeGroups(result);
        return;
      case 'activationGrid':
        if (result) await this.activationGrid(result);
        return;
      case 'export':
        await this.export(msg);
        return;
    }
  }

  /** Lucid's NeuronGroups icons: one optimisation of K images, image k maximising the direction of group k. */
  private async visualizeGroups(result: BlocksResult): Promise<void> {
    const abort = new AbortController();
    const objective = result.groups.channels.map((vector, k) => ({ kind: 'direction' as const, layer: result.layer, vector, batch: k }));
    const preprocessing = preprocessingFor(this.ctx.config(), this.state.modelPath, resolveInWorkspace(this.state.modelPath));
    const options = { objective, params: { batch: result.groups.k, size: GROUP_PICTURE_SIZE }, ...(preprocessing ? { preprocessing } : {}) };
    this.channel.setBusy(`Visualizing the ${result.groups.k} neuron groups…`);
    const summary = await settleWorkerTask(this.ctx, { name: `visualizing the neuron groups of ${result.layer}` }, abort, async () =>
      withWorkerProgress(`Loupe: visualizing ${result.groups.k} neuron groups of ${result.layer}`, abort,
        (onProgress) => this.ctx.client.visualize(this.state.modelPath, options, { signal: abort.signal, onProgress })), (m) => this.channel.fail(m));
    this.channel.setBusy(undefined);
    const file = summary ? imageFile(summary) : undefined;
    if (!file || this.result !== result) return;
    this.groupPictures = this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString();
    this.channel.post({ type: 'groupPictures', uri: this.groupPictures });
  }

  private async activationGrid(result: BlocksResult): Promise<void> {
    const abort = new AbortController();
    const { modelPath, imagePath } = this.state;
    const preprocessing = preprocessingFor(this.ctx.config(), modelPath, resolveInWorkspace(modelPath));
    const options = { layer: result.layer, groups: result.groups.k, ...(preprocessing ? { preprocessing } : {}) };
    this.channel.setBusy(`Rendering the activation grid (${result.layerShape[0]}×${result.layerShape[1]} images)…`);
    const grid = await settleWorkerTask(this.ctx, { name: `activation grid of ${path.basename(imagePath)} at ${result.layer}` }, abort, async () =>
      withWorkerProgress(`Loupe: activation grid of ${path.basename(imagePath)} at ${result.layer}`, abort,
        (onProgress) => this.ctx.client.activationGrid(modelPath, imagePath, options, { signal: abort.signal, onProgress })), (m) => this.channel.fail(m));
    this.channel.setBusy(undefined);
    if (!grid || this.result !== result) return;
    this.channel.post({ type: 'grid', png: `data:image/png;base64,${grid.png}`, rows: grid.rows, cols: grid.cols, cellSize: grid.cellSize });
  }

  private async export(msg: Extract<FromBlocksWebview, { type: 'export' }>): Promise<void> {
    const result = this.result;
    if (!result) return;
    const stem = `${path.parse(this.state.imagePath).name}-${result.layer.replace(/[^\w.-]/g, '_')}-blocks`;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: `Loupe: export the building blocks (${msg.format.toUpperCase()})`,
      filters: msg.format === 'json' ? { JSON: ['json'] } : { PNG: ['png'] },
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${stem}.${msg.format}`) } : {}),
    });
    if (!target) return;
    const bytes = msg.format === 'json'
      ? Buffer.from(JSON.stringify(result, null, 1))
      : Buffer.from(msg.png.slice('data:image/png;base64,'.length), 'base64');
    try {
      await vscode.workspace.fs.writeFile(target, bytes);
      void vscode.window.showInformationMessage(`Loupe: saved ${vscode.workspace.asRelativePath(target, false)}`);
    } catch (err) {
      await showErrorWithLog(this.ctx, `Loupe: cannot save ${target.fsPath}: ${(err as Error).message}`);
    }
  }

  private dispose(): void {
    this.running?.abort();
    if (BlocksPanel.current === this) BlocksPanel.current = undefined;
  }
}
